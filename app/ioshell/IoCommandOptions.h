#pragma once
// CommandOptions: getopt over one shell command's words, with GNU getopt's messages on the
// shell's standard error ("read: invalid option -- 'z'": argv[0] is the command name as typed).
// The caller holds the shell's getopt lock (getopt's state is global).
#include "app/ioshell/IoOutput.h"

#include <getopt.h>
#include <string>
#include <vector>

namespace e2kvm::io {

class CommandOptions {
public:
    CommandOptions(std::vector<std::string>& args, IoOutput& out) : out_(out) {
        for (auto& a : args)
            argv_.push_back(a.data());
        argv_.push_back(nullptr);
        optind = 0; // full re-initialisation of GNU getopt
        opterr = 0;
    }
    // The next option as getopt returns it ('?' for an unknown one or a missing argument).
    int next(const char* optstring) {
        std::string quiet = std::string(":") + optstring; // ':' tells a missing argument apart
        int c = getopt(int(argv_.size()) - 1, argv_.data(), quiet.c_str());
        if (c == '?') {
            out_.errf("%s: invalid option -- '%c'\n", argv_[0], optopt);
        } else if (c == ':') {
            out_.errf("%s: option requires an argument -- '%c'\n", argv_[0], optopt);
            c = '?';
        }
        return c;
    }
    int argc() const { return int(argv_.size()) - 1; }
    const char* arg(int i) const { return argv_[size_t(i)]; }

private:
    std::vector<char*> argv_;
    IoOutput& out_;
};

} // namespace e2kvm::io

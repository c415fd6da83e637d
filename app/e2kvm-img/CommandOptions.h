#pragma once
// CommandOptions: getopt_long over one subcommand's arguments, with qemu-img's behaviour for
// unknown options, missing option arguments and -h/--help (prints the command's help).
#include <getopt.h>
#include <string>
#include <vector>

namespace e2kvm::img {

class CommandOptions {
public:
    // shortOpts without the leading ':'; longOpts terminated by a zero entry. "h"/"help" are
    // added automatically.
    CommandOptions(int argc, char** argv, const std::string& shortOpts,
                   std::vector<struct option> longOpts);

    // The next option character (or long-option value), or -1 when done. Throws UsageError
    // for unknown options; prints help and throws HelpShown for -h/--help.
    int next();
    std::string arg() const { return optarg ? optarg : ""; }
    // Arguments that are not options, in order (valid once next() returned -1).
    std::vector<std::string> positional() const;

private:
    int argc_;
    char** argv_;
    std::string shortOpts_;
    std::vector<struct option> longOpts_;
};

// Thrown after help text has been printed; main exits with 0.
struct HelpShown {};

// Prints the help of one command ("create", ...) or of the whole tool ("").
void printHelp(const std::string& command);

// The program's name in messages: the last component of argv[0] ("qemu-img" when installed
// under that name), "e2kvm-img" until setToolName() is called.
extern const char* kToolName;
void setToolName(const char* argv0);

} // namespace e2kvm::img

#pragma once
// IoShell: runs qemu-io style commands ("read -P 0xab 0 4k", "write -z -u 1M 64k", "map",
// ...) against one open image, printing exactly what qemu-io 7.2 prints.
#include "block/BlockDriver.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::io {

class IoShell {
public:
    struct Options {
        // Discards and write -z -u really deallocate (qemu-io -d unmap); otherwise discard
        // requests are accepted and ignored, as qemu-io does by default.
        bool discardUnmap = true; // qemu-io discards by default; -d ignore turns it off
        // Every write is flushed before it completes (qemu-io's default cache mode).
        bool writethrough = true;
        // Flush requests are ignored (cache mode "unsafe").
        bool ignoreFlush = false;
    };
    IoShell(std::unique_ptr<block::BlockDriver> image, Options options);

    // Runs one command line. Returns false when the command asks to stop (quit).
    bool runLine(const std::string& line);
    // Whether any command so far failed (the exit status is 1 then).
    bool anyFailed() const { return anyFailed_; }
    // Flushes and closes the image; throws BlockError if the final flush fails.
    void close();

private:
    struct Command;
    using Args = std::vector<std::string>;
    static const Command* findCommand(const std::string& name);
    static const std::vector<Command>& commands();
    static void printUsage(const Command& cmd, const std::string& typedName);

    bool cmdRead(const Command& cmd, Args& args);
    bool cmdWrite(const Command& cmd, Args& args);
    bool cmdDiscard(const Command& cmd, Args& args);
    bool cmdFlush(const Command& cmd, Args& args);
    bool cmdMap(const Command& cmd, Args& args);
    bool cmdInfo(const Command& cmd, Args& args);
    bool cmdLength(const Command& cmd, Args& args);
    bool cmdHelp(const Command& cmd, Args& args);
    bool cmdAbort(const Command& cmd, Args& args);
    bool cmdDump(const Command& cmd, Args& args);

    // Range check as QEMU's block layer does it (EIO past the end of the disk).
    bool inRange(uint64_t offset, uint64_t length) const;
    // Prints "<op> failed: <strerror>" on stdout and the detailed error on stderr.
    static void reportFailure(const char* op, int errnoValue, const std::string& detail);

    std::unique_ptr<block::BlockDriver> image_;
    Options options_;
    bool anyFailed_ = false;
    bool quit_ = false;
};

} // namespace e2kvm::io

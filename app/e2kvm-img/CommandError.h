#pragma once
// Errors of the e2kvm-img command line: a usage error (bad arguments, printed with a hint to
// --help) and a command failure with its own exit code.
#include "block/BlockError.h"

#include <stdexcept>
#include <string>

namespace e2kvm::img {

// Wrong arguments: "e2kvm-img: MESSAGE" plus "Try 'e2kvm-img --help' ...", exit 1.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A failure reported as "e2kvm-img: MESSAGE" with a command-specific exit code.
class CommandFailure : public std::runtime_error {
public:
    CommandFailure(const std::string& message, int exitCode = 1)
        : std::runtime_error(message), exitCode_(exitCode) {}
    int exitCode() const { return exitCode_; }

private:
    int exitCode_;
};

// The failure of a block error's message `what` under `context` ("Could not apply snapshot
// 'x': "): a reason the block layer reports first (block::splitReportedFirst) becomes an
// error line of its own before it, as QEMU prints them. `toolName` is the program's name.
inline CommandFailure failureInContext(const std::string& context, const std::string& what,
                                       const char* toolName) {
    auto [reason, failure] = block::splitReportedFirst(what);
    if (reason.empty())
        return CommandFailure(context + failure);
    return CommandFailure(reason + "\n" + toolName + ": " + context + failure);
}

} // namespace e2kvm::img

#pragma once
// BlockError: the one exception type of the block layer. It carries a message with context
// ("t.qcow2: L2 table at 0x30000 past end of file") and the errno an NBD server or a guest
// disk should report for it.
#include <cerrno>
#include <stdexcept>
#include <string>
#include <utility>

namespace e2kvm::block {

class BlockError : public std::runtime_error {
public:
    BlockError(int errnoValue, const std::string& message)
        : std::runtime_error(message), errno_(errnoValue) {}
    explicit BlockError(const std::string& message) : BlockError(EIO, message) {}

    // EIO, EINVAL, ENOSPC, EPERM, ENOTSUP, ENOENT, ...
    int errnoValue() const { return errno_; }

private:
    int errno_;
};

// "path: message" — the usual way to add context.
[[noreturn]] inline void throwError(int errnoValue, const std::string& path,
                                    const std::string& what) {
    throw BlockError(errnoValue, path.empty() ? what : path + ": " + what);
}

// QEMU reports some failures in two steps: a reason on a line of its own first (its
// error_report), then the failure that reason caused. Such an error's message is the reason,
// this separator, and the failure; the program prints the two as two of its error lines.
inline constexpr char kReportedFirstSeparator[] = "\n\x01";

inline std::string reportedFirst(const std::string& reason, const std::string& failure) {
    return reason + kReportedFirstSeparator + failure;
}

// The reason reported first ("" if there is none) and the failure of a message.
inline std::pair<std::string, std::string> splitReportedFirst(const std::string& message) {
    const auto at = message.find(kReportedFirstSeparator);
    if (at == std::string::npos)
        return {std::string(), message};
    return {message.substr(0, at), message.substr(at + 2)};
}

} // namespace e2kvm::block

#pragma once
// BlockError: the one exception type of the block layer. It carries a message with context
// ("t.qcow2: L2 table at 0x30000 past end of file") and the errno an NBD server or a guest
// disk should report for it.
#include <cerrno>
#include <stdexcept>
#include <string>

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
[[noreturn]] inline void throwError(int errnoValue, const std::string& path, const std::string& what) {
    throw BlockError(errnoValue, path.empty() ? what : path + ": " + what);
}

} // namespace e2kvm::block

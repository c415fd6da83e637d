#pragma once
// SftpConnection: one remote file opened over SFTP with libssh, as QEMU's ssh driver opens it:
// its own TCP connection, the server's host key checked (known_hosts, a hash, or not at all),
// authentication by "none" or by public key (the ssh-agent and the default identities), then
// the file opened read-only or read-write. Blocking; not thread-safe (SshImage serialises).
#include "block/ssh/SshOptions.h"

#include <cstdint>
#include <span>
#include <string>

namespace e2kvm::block::ssh {

// The user running the program (QEMU's default ssh user). Throws BlockError.
std::string currentUserName();

class SftpConnection {
public:
    enum class Mode { ReadOnly, ReadWrite, Create }; // Create: a new empty file (mode 0644)

    // Throws BlockError with QEMU's words for each step that fails.
    SftpConnection(const SshTarget& target, Mode mode);
    ~SftpConnection();
    SftpConnection(const SftpConnection&) = delete;
    SftpConnection& operator=(const SftpConnection&) = delete;

    // The user the session logged in as.
    const std::string& user() const { return user_; }
    // The file's size when opened, as grown by writes and grow() since.
    uint64_t size() const { return size_; }
    // Reads [offset, offset+buf.size()); what lies past the remote end of file reads as zeros.
    void read(uint64_t offset, std::span<uint8_t> buf);
    void write(uint64_t offset, std::span<const uint8_t> buf);
    // Makes the remote file durable (OpenSSH's fsync extension); a server without it cannot,
    // which is reported once on stderr, as QEMU does, and is no error.
    void fsync();
    // Lengthens the file to `newSize` (> size()) by writing its last byte.
    void grow(uint64_t newSize);

private:
    [[noreturn]] void throwSessionError(int err, const std::string& what) const;
    [[noreturn]] void throwSftpError(int err, const std::string& what) const;
    void seek(uint64_t offset);
    void checkHostKey(const SshTarget& target);
    void authenticate();

    struct Handles;
    Handles* h_;
    std::string user_;
    std::string host_;
    uint64_t size_ = 0;
    bool fsyncWarned_ = false;
};

} // namespace e2kvm::block::ssh

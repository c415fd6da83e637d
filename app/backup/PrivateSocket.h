#pragma once
// PrivateSocket: a Unix socket path in a fresh directory only this user can enter
// ($TMPDIR/e2kvm-backup-XXXXXX/nbd.sock, /tmp by default), where a backup source has a VM
// serve its point in time; removed again by release().
#include <string>

namespace e2kvm::backup {

class PrivateSocket {
public:
    PrivateSocket() = default;
    ~PrivateSocket() { release(); }
    PrivateSocket(const PrivateSocket&) = delete;
    PrivateSocket& operator=(const PrivateSocket&) = delete;

    // Creates the directory; returns the socket path. Throws std::runtime_error.
    const std::string& create();
    const std::string& path() const { return path_; }
    // Removes the socket file and the directory (nothing if not created).
    void release();

private:
    std::string dir_, path_;
};

} // namespace e2kvm::backup

#pragma once
// Transport: the byte stream one NBD connection runs over (a plain socket, a TLS session, or
// memory in tests and fuzzers). One thread may read while others write; writes of one
// message are whole (callers serialize them).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <sys/uio.h>
#include <vector>

namespace e2kvm::nbd {

class Transport {
public:
    virtual ~Transport() = default;
    // Reads exactly len bytes; throws ConnectionClosed at end of stream, NbdError on errors.
    virtual void readExact(void* buf, size_t len) = 0;
    // Writes every byte of the vector.
    virtual void writeAll(const iovec* iov, int count) = 0;
    // Unblocks a pending read or write from another thread; later calls fail.
    virtual void shutdown() = 0;
    // Sends `length` bytes of file `fd` from `offset` without copying them through user
    // space, if this transport can; returns false (nothing sent) otherwise.
    virtual bool sendFile(int fd, uint64_t offset, size_t length) {
        (void)fd, (void)offset, (void)length;
        return false;
    }

    // True when more input is already waiting to be read, or when the transport cannot tell.
    virtual bool inputPending() const { return true; }
    void writeAll(std::span<const uint8_t> bytes) {
        iovec v{const_cast<uint8_t*>(bytes.data()), bytes.size()};
        writeAll(&v, 1);
    }
    // Reads and throws away len bytes.
    void discard(uint64_t len);
};

// A connected stream socket (Unix or TCP), blocking I/O.
class SocketTransport final : public Transport {
public:
    // Takes ownership of fd when ownsFd.
    SocketTransport(int fd, bool ownsFd);
    ~SocketTransport() override;
    void readExact(void* buf, size_t len) override;
    void writeAll(const iovec* iov, int count) override;
    void shutdown() override;
    bool sendFile(int fd, uint64_t offset, size_t length) override;
    bool inputPending() const override;
    int fd() const { return fd_; }

private:
    int fd_;
    bool ownsFd_;
};

// Reads from a fixed buffer, discards what is written (fuzzers and unit tests).
class MemoryTransport final : public Transport {
public:
    explicit MemoryTransport(std::span<const uint8_t> input) : input_(input) {}
    void readExact(void* buf, size_t len) override;
    void writeAll(const iovec* iov, int count) override;
    void shutdown() override { closed_ = true; }
    bool inputPending() const override { return pos_ < input_.size(); }
    size_t bytesWritten() const { return written_; }

private:
    std::span<const uint8_t> input_;
    size_t pos_ = 0;
    size_t written_ = 0;
    std::atomic<bool> closed_{false};
};

} // namespace e2kvm::nbd

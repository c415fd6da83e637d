#include "nbd/Transport.h"

#include "nbd/NbdError.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace e2kvm::nbd {

void Transport::discard(uint64_t len) {
    uint8_t scratch[16384];
    while (len > 0) {
        size_t n = size_t(std::min<uint64_t>(len, sizeof scratch));
        readExact(scratch, n);
        len -= n;
    }
}

SocketTransport::SocketTransport(int fd, bool ownsFd) : fd_(fd), ownsFd_(ownsFd) {
    int fl = fcntl(fd_, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd_, F_SETFL, fl & ~O_NONBLOCK);
}

SocketTransport::~SocketTransport() {
    if (ownsFd_)
        close(fd_);
}

void SocketTransport::readExact(void* buf, size_t len) {
    auto* p = static_cast<uint8_t*>(buf);
    while (len > 0) {
        ssize_t n = recv(fd_, p, len, MSG_WAITALL);
        if (n == 0)
            throw ConnectionClosed();
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNRESET || errno == EPIPE || errno == ESHUTDOWN)
                throw ConnectionClosed();
            throw NbdError(std::string("socket read: ") + std::strerror(errno));
        }
        p += n;
        len -= size_t(n);
    }
}

void SocketTransport::writeAll(const iovec* iovIn, int count) {
    iovec local[64];
    std::vector<iovec> heap;
    iovec* iov = local;
    if (count > 64) {
        heap.assign(iovIn, iovIn + count);
        iov = heap.data();
    } else {
        std::copy(iovIn, iovIn + count, local);
    }
    while (count > 0) {
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = size_t(std::min(count, 1024));
        ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                throw ConnectionClosed();
            throw NbdError(std::string("socket write: ") + std::strerror(errno));
        }
        size_t done = size_t(n);
        while (count > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
}

bool SocketTransport::sendFile(int fd, uint64_t offset, size_t length) {
    off_t off = off_t(offset);
    while (length > 0) {
        ssize_t n = ::sendfile(fd_, fd, &off, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                throw ConnectionClosed();
            throw NbdError(std::string("socket sendfile: ") + std::strerror(errno));
        }
        if (n == 0) { // the file shrank under us: the rest reads as zeros
            static const uint8_t zeros[65536] = {};
            while (length > 0) {
                size_t chunk = std::min(length, sizeof zeros);
                iovec v{const_cast<uint8_t*>(zeros), chunk};
                writeAll(&v, 1);
                length -= chunk;
            }
            return true;
        }
        length -= size_t(n);
    }
    return true;
}

bool SocketTransport::inputPending() const {
    int bytes = 0;
    return ::ioctl(fd_, FIONREAD, &bytes) != 0 || bytes > 0;
}

void SocketTransport::shutdown() {
    ::shutdown(fd_, SHUT_RDWR);
}

void MemoryTransport::readExact(void* buf, size_t len) {
    if (len == 0)
        return;
    if (closed_ || input_.size() - pos_ < len)
        throw ConnectionClosed();
    std::memcpy(buf, input_.data() + pos_, len);
    pos_ += len;
}

void MemoryTransport::writeAll(const iovec* iov, int count) {
    if (closed_)
        throw ConnectionClosed();
    for (int i = 0; i < count; ++i)
        written_ += iov[i].iov_len;
}

} // namespace e2kvm::nbd

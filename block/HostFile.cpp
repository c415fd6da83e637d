#include "HostFile.h"

#include "BlockDriver.h"
#include "BlockError.h"
#include "blkdebug/BlkdebugAlignedWrite.h"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace e2kvm::block {

namespace {
std::string errnoText(int e) {
    return std::strerror(e);
}
} // namespace

HostFile::HostFile(const std::string& path, Mode mode, std::shared_ptr<BlockDriver> node)
    : path_(path), node_(std::move(node)) {
    if (node_) {
        writable_ = mode != Mode::ReadOnly;
        if (mode == Mode::Create)
            throwError(EINVAL, path_, "An open image cannot be created anew");
        if (writable_ && node_->readOnly())
            throwError(EACCES, path_, "Block node is read-only");
        if (node_->formatName() == "blkdebug")
            nodeInjector_ = node_->blkdebug();
        return;
    }
    int flags = O_CLOEXEC;
    switch (mode) {
    case Mode::ReadOnly:
        flags |= O_RDONLY;
        break;
    case Mode::ReadWrite:
        flags |= O_RDWR;
        writable_ = true;
        break;
    case Mode::Create:
        flags |= O_RDWR | O_CREAT | O_TRUNC;
        writable_ = true;
        break;
    }
    fd_ = ::open(path.c_str(), flags, 0644);
    if (fd_ < 0) {
        int e = errno;
        throwError(e, path, "Could not open: " + errnoText(e));
    }
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        throwError(EISDIR, path, "Is a directory");
    }
}

HostFile::~HostFile() {
    if (fd_ >= 0)
        ::close(fd_);
}

void HostFile::read(uint64_t offset, std::span<uint8_t> buf) const {
    if (blkdebug_)
        blkdebug_->check(BlkdebugIoType::Read, offset, buf.size());
    if (node_) {
        const uint64_t end = node_->size();
        const size_t inside =
            offset >= end ? 0 : size_t(std::min<uint64_t>(buf.size(), end - offset));
        if (inside)
            node_->read(offset, buf.first(inside));
        std::memset(buf.data() + inside, 0, buf.size() - inside);
        return;
    }
    size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, offset + done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            // The host's errno, as QEMU reports it (a FUSE export refusing with EACCES).
            int e = errno;
            throwError(e, path_,
                       "read at " + std::to_string(offset + done) + " failed: " + errnoText(e));
        }
        if (n == 0) { // end of file: the rest reads as zero
            std::memset(buf.data() + done, 0, buf.size() - done);
            return;
        }
        done += size_t(n);
    }
}

void HostFile::readExact(uint64_t offset, std::span<uint8_t> buf, const char* what) const {
    uint64_t sz = size();
    if (offset > sz || buf.size() > sz - offset) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "%s at 0x%llx (%zu bytes) is past end of file", what,
                      (unsigned long long)offset, buf.size());
        throwError(EINVAL, path_, msg);
    }
    read(offset, buf);
}

void HostFile::write(uint64_t offset, std::span<const uint8_t> buf) {
    if (blkdebug_ && blkdebug_->alignment() > 1 && !buf.empty()) {
        writeAligned(offset, buf, blkdebug_->alignment());
        return;
    }
    writeNow(offset, buf);
}

void HostFile::writeAligned(uint64_t offset, std::span<const uint8_t> buf, uint64_t align) {
    writeAlignedThrough(
        *blkdebug_, offset, buf, align,
        [this](uint64_t at, std::span<uint8_t> to) { read(at, to); },
        [this](uint64_t at, std::span<const uint8_t> from) { writeNow(at, from); });
}

void HostFile::writeNow(uint64_t offset, std::span<const uint8_t> buf) {
    if (blkdebug_) {
        writeGeneration_.fetch_add(1);
        blkdebug_->event(BlkdebugEvent::Pwritev);
        blkdebug_->check(BlkdebugIoType::Write, offset, buf.size());
    }
    if (node_) {
        // A format lengthens its file by writing past the end (QEMU's formats hold the resize
        // permission on their file): a node that can grow (a remote file over ssh) grows
        // first; one that cannot refuses the write as before.
        if (offset + buf.size() > node_->size()) {
            try {
                node_->truncate(offset + buf.size());
            } catch (const BlockError&) {
                // The write below then fails past the end, as it always did.
            }
        }
        node_->write(offset, buf);
        if (blkdebug_)
            blkdebug_->event(BlkdebugEvent::PwritevDone);
        return;
    }
    size_t done = 0;
    while (done < buf.size()) {
        ssize_t n = ::pwrite(fd_, buf.data() + done, buf.size() - done, offset + done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            throwError(e == ENOSPC || e == EDQUOT || e == EFBIG ? ENOSPC : e, path_,
                       "write at " + std::to_string(offset + done) + " failed: " + errnoText(e));
        }
        done += size_t(n);
    }
    if (blkdebug_)
        blkdebug_->event(BlkdebugEvent::PwritevDone);
}

void HostFile::sync() {
    const uint64_t generation = writeGeneration_.load();
    if (blkdebug_) {
        if (generation == syncedGeneration_.load())
            return;
        blkdebug_->check(BlkdebugIoType::Flush, 0, 0);
    }
    if (node_)
        node_->flush();
    else if (::fdatasync(fd_) < 0) {
        int e = errno;
        throwError(EIO, path_, "flush failed: " + errnoText(e));
    }
    syncedGeneration_.store(generation);
}

uint64_t HostFile::size() const {
    if (node_)
        return node_->size();
    struct stat st {};
    if (::fstat(fd_, &st) < 0) {
        int e = errno;
        throwError(EIO, path_, "stat failed: " + errnoText(e));
    }
    if (S_ISBLK(st.st_mode)) {
        off_t end = ::lseek(fd_, 0, SEEK_END);
        return end < 0 ? 0 : uint64_t(end);
    }
    return uint64_t(st.st_size);
}

void HostFile::truncate(uint64_t sz) {
    if (blkdebug_)
        writeGeneration_.fetch_add(1);
    if (node_) {
        node_->truncate(sz);
        return;
    }
    if (::ftruncate(fd_, off_t(sz)) < 0) {
        int e = errno;
        throwError(e == EFBIG || e == ENOSPC ? ENOSPC : EIO, path_,
                   "truncate to " + std::to_string(sz) + " failed: " + errnoText(e));
    }
}

uint64_t HostFile::allocatedBytes() const {
    if (node_)
        return node_->allocatedBytes();
    struct stat st {};
    if (::fstat(fd_, &st) < 0)
        return 0;
    return uint64_t(st.st_blocks) * 512;
}

bool HostFile::allocatedBytesKnown() const {
    return !node_ || node_->allocatedBytesKnown();
}

namespace {
void writeZerosSlow(HostFile& f, uint64_t offset, uint64_t length) {
    static const std::vector<uint8_t> zeros(1 << 20);
    while (length > 0) {
        size_t n = size_t(std::min<uint64_t>(length, zeros.size()));
        f.write(offset, std::span(zeros.data(), n));
        offset += n;
        length -= n;
    }
}
} // namespace

void HostFile::punchHole(uint64_t offset, uint64_t length) {
    if (length == 0)
        return;
    if (blkdebug_) {
        writeGeneration_.fetch_add(1);
        blkdebug_->check(BlkdebugIoType::Discard, offset, length);
    }
    if (node_) {
        const uint64_t end = node_->size();
        if (offset < end)
            node_->writeZeroes(offset, std::min(length, end - offset), ZeroMayUnmap);
        return;
    }
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset),
                    off_t(length)) == 0)
        return;
    // Past end of file nothing needs to be done; otherwise write zeros.
    uint64_t sz = size();
    if (offset >= sz)
        return;
    writeZerosSlow(*this, offset, std::min(length, sz - offset));
}

void HostFile::zeroRange(uint64_t offset, uint64_t length) {
    if (length == 0)
        return;
    if (blkdebug_) {
        writeGeneration_.fetch_add(1);
        blkdebug_->event(BlkdebugEvent::PwritevZero);
        blkdebug_->check(BlkdebugIoType::WriteZeroes, offset, length);
    }
    if (node_) {
        node_->writeZeroes(offset, length);
        return;
    }
    if (::fallocate(fd_, FALLOC_FL_ZERO_RANGE, off_t(offset), off_t(length)) == 0)
        return;
    writeZerosSlow(*this, offset, length);
}

bool HostFile::preallocate(uint64_t offset, uint64_t length) {
    if (length == 0)
        return true;
    if (node_)
        return false;
    return ::posix_fallocate(fd_, off_t(offset), off_t(length)) == 0;
}

HostFile::Run HostFile::dataRun(uint64_t offset, uint64_t limit) const {
    if (node_) {
        // Only what the node itself says reads as zero is a hole.
        const uint64_t end = node_->size();
        if (offset >= end)
            return {false, limit};
        LayerExtent e = node_->layerStatus(offset, std::min(limit, end) - offset);
        const bool hole =
            e.kind == Allocation::Zero || (e.kind == Allocation::Unallocated && !node_->backing() &&
                                           node_->unallocatedReadsAsZero());
        return {!hole, std::min<uint64_t>(offset + e.length, limit)};
    }
    off_t data = ::lseek(fd_, off_t(offset), SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) // offset is in a trailing hole (or past EOF)
            return {false, limit};
        return {true, limit}; // filesystem cannot tell: assume data
    }
    if (uint64_t(data) > offset)
        return {false, std::min<uint64_t>(uint64_t(data), limit)};
    off_t hole = ::lseek(fd_, off_t(offset), SEEK_HOLE);
    if (hole < 0)
        return {true, limit};
    return {true, std::min<uint64_t>(uint64_t(hole), limit)};
}

} // namespace e2kvm::block

#pragma once
// HostFile: an open file on the host, with whole-buffer positioned I/O, sparse-file helpers
// and errors that name the file. Thread-safe: all I/O is positioned (pread/pwrite).
// It may instead stand for another open image (a node): a format over any node as its file,
// as QEMU allows (qcow2 over qcow2); its requests then go to that image.
#include "ImageLock.h"
#include "blkdebug/Blkdebug.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace e2kvm::block {

class BlockDriver;

class HostFile {
public:
    enum class Mode { ReadOnly, ReadWrite, Create /* read-write, created or truncated */ };

    HostFile(const std::string& path, Mode mode) : HostFile(path, mode, nullptr) {}
    // With a `node`, that open image is the file and `path` is not opened (Mode::Create is not
    // allowed): I/O goes to the node, there is no descriptor (fd() is -1) and no lock of its
    // own (the node holds its file's). Without one, as above.
    HostFile(const std::string& path, Mode mode, std::shared_ptr<BlockDriver> node);
    ~HostFile();
    HostFile(const HostFile&) = delete;
    HostFile& operator=(const HostFile&) = delete;

    const std::string& path() const { return path_; }
    // Whether this stands for another open image (a node) rather than a host file.
    bool isNode() const { return node_ != nullptr; }
    int fd() const { return fd_; }
    bool writable() const { return writable_; }
    // Takes QEMU's image locks on this open file (see ImageLock); they last until it is closed.
    void lock(ImageLocks locks) {
        if (!node_)
            lockImageFile(fd_, path_, locks);
    }

    // An error injector (blkdebug) between the format and this file: it sees every request
    // (and may fail it) and the events the format raises. Set before the file is shared.
    void setBlkdebug(std::shared_ptr<Blkdebug> injector) { blkdebug_ = std::move(injector); }
    const std::shared_ptr<Blkdebug>& blkdebug() const { return blkdebug_; }
    // Tells the injector, if there is one, that the format reached `event`: the one set here,
    // else that of a blkdebug node this file stands for (QEMU raises a format's events on its
    // file's node, which a blkdebug node acts on).
    void debugEvent(BlkdebugEvent event) const {
        if (blkdebug_)
            blkdebug_->event(event);
        else if (nodeInjector_)
            nodeInjector_->event(event);
    }

    // Reads exactly buf.size() bytes; bytes past end of file read as zero.
    void read(uint64_t offset, std::span<uint8_t> buf) const;
    // Reads exactly buf.size() bytes; throws if the file is shorter.
    void readExact(uint64_t offset, std::span<uint8_t> buf, const char* what) const;
    void write(uint64_t offset, std::span<const uint8_t> buf);
    void sync(); // fdatasync
    uint64_t size() const;
    void truncate(uint64_t size);
    // Bytes the file occupies on the host (st_blocks * 512).
    uint64_t allocatedBytes() const;
    // Whether allocatedBytes() can be told: a node that cannot tell (an NBD export) makes
    // QEMU's "disk size: unavailable".
    bool allocatedBytesKnown() const;
    // Deallocate a range (reads as zero afterwards). Falls back to writing zeros.
    void punchHole(uint64_t offset, uint64_t length);
    // Make a range read as zero, keeping it allocated when possible.
    void zeroRange(uint64_t offset, uint64_t length);
    // Allocate a range (posix_fallocate); false if the filesystem cannot.
    bool preallocate(uint64_t offset, uint64_t length);
    // SEEK_DATA/SEEK_HOLE: whether `offset` is in data, and where that run ends (clamped).
    struct Run {
        bool data;
        uint64_t end;
    };
    Run dataRun(uint64_t offset, uint64_t limit) const;

private:
    // The write itself, once the request may run (see write).
    void writeNow(uint64_t offset, std::span<const uint8_t> buf);
    // A write with an injector that has an alignment, as QEMU's block layer makes it: widened
    // to whole units (read first where partly covered), tracked against overlapping requests.
    void writeAligned(uint64_t offset, std::span<const uint8_t> buf, uint64_t align);

    std::string path_;
    int fd_ = -1;
    bool writable_ = false;
    std::shared_ptr<Blkdebug> blkdebug_;
    std::shared_ptr<BlockDriver> node_; // set: the file is this image
    Blkdebug* nodeInjector_ = nullptr;  // node_'s, when node_ is a blkdebug node
    // With an injector: changes begun and the count the last successful sync covered. As in
    // QEMU, a sync of a file not written since reaches neither the injector nor the disk.
    std::atomic<uint64_t> writeGeneration_{0};
    std::atomic<uint64_t> syncedGeneration_{0};
};

} // namespace e2kvm::block

#pragma once
// RawImage: a disk image that is the disk's bytes, one to one, in a host file. Holes in a
// sparse file are reported as zero extents and made with punch-hole / zero-range. Its dirty
// bitmaps live only in memory (a raw file has nowhere to keep them).
// When its format was probed (not given), it stays raw as QEMU keeps it: a write, zero write or
// discard that would turn the first sector into another format's header (see HeaderProbe.h)
// fails with EPERM, so that the next probed open cannot read the disk's bytes as a header that
// names a host file as backing file. With the format given as raw, nothing is restricted.
#include "BlockDriver.h"
#include "HeaderProbe.h"
#include "HostFile.h"
#include "ImageOpen.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>

namespace e2kvm::block {

class RawImage final : public BlockDriver {
public:
    // `blkdebug`: an error injector between this format and the file (may be null).
    // `directIo`: opened with cache.direct=on (see OpenOptions::directIo).
    RawImage(const std::string& path, bool readOnly, bool formatProbed = false,
             ImageLocks locks = {}, std::shared_ptr<Blkdebug> blkdebug = nullptr,
             bool directIo = false);
    ~RawImage() override;
    static void create(const std::string& path, const CreateOptions& options);

    std::string formatName() const override { return "raw"; }
    bool formatProbed() const { return formatProbed_; }
    uint64_t size() const override;
    uint64_t allocatedBytes() const override { return file_.allocatedBytes(); }
    int directReadFd() const override { return file_.fd(); }
    bool unmapPunchesHostFile() const override { return true; }
    // Non-persistent bitmaps only (granularity 64 KiB unless given, as QEMU for raw nodes).
    BitmapCatalog* bitmaps() override { return catalog_.get(); }
    HostFile& file() { return file_; }
    Blkdebug* blkdebug() const override { return file_.blkdebug().get(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;
    // falloc: the new area is reserved on the host; full: zeros are written to it.
    void doPreallocatingTruncate(uint64_t newSize, Preallocation mode) override;

private:
    // A write or zero-range ending at `end` may have lengthened the file (the tail of a file
    // whose length is not a sector multiple): take the new length from the file.
    void noteWriteEnd(uint64_t end);
    // A probed image, a request starting in the first sector: the first sector as it would be
    // after writing `data` (null: zeros) over [offset, offset + length); throws EPERM unless it
    // still probes as raw. Call with firstSectorMutex_ held.
    std::array<uint8_t, kProbeBytes> checkedFirstSector(uint64_t offset, uint64_t length,
                                                        const uint8_t* data, const char* op);
    bool guardsRequest(uint64_t offset) const { return formatProbed_ && offset < kProbeBytes; }

    HostFile file_;
    // The file's length in bytes, read once on open and kept up to date by our own writes and
    // truncates, so that size() (called once or twice per NBD request) needs no fstat. As in
    // QEMU, which also caches a raw file's length, a change made to the file's length by
    // another process while it is open is not followed: the disk keeps the size it had (the
    // file is locked against such writers in QEMU; resize it through us instead).
    std::atomic<uint64_t> fileLength_;
    std::unique_ptr<BitmapCatalog> catalog_;
    const bool formatProbed_;
    const bool directIo_;
    static constexpr uint64_t kDirectAlignment = 512;
    // Serialises the check and the write of requests in the first sector, so that two of them
    // cannot each pass alone and together make a header.
    std::mutex firstSectorMutex_;
};

} // namespace e2kvm::block

#include "RawImage.h"

#include "bitmap/BitmapCatalog.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace e2kvm::block {

RawImage::RawImage(const std::string& path, bool readOnly, bool formatProbed, ImageLocks locks,
                   std::shared_ptr<Blkdebug> blkdebug, bool directIo)
    : BlockDriver(path, readOnly),
      file_(path, readOnly ? HostFile::Mode::ReadOnly : HostFile::Mode::ReadWrite),
      fileLength_((file_.lock(locks), file_.setBlkdebug(std::move(blkdebug)), file_.size())),
      catalog_(
          std::make_unique<BitmapCatalog>(*this, nullptr, std::vector<NamedBitmap>{}, !readOnly)),
      formatProbed_(formatProbed), directIo_(directIo) {}

// The catalog detaches its recorders from this driver, so it goes first.
RawImage::~RawImage() {
    catalog_.reset();
}

namespace {

// As QEMU's file driver: a file grown from empty gets its first block written (zeros: one
// sector for a file smaller than 4 KiB, else 4 KiB), so it is allocated on the host and block
// status shows it as data.
void allocateFirstBlock(HostFile& f, uint64_t size) {
    static const std::array<uint8_t, 4096> zeros{};
    const size_t length =
        size_t(std::min<uint64_t>(size < zeros.size() ? 512 : zeros.size(), size));
    f.write(0, std::span<const uint8_t>(zeros.data(), length));
}

} // namespace

void RawImage::create(const std::string& path, const CreateOptions& options) {
    HostFile f(path, HostFile::Mode::Create);
    f.truncate(options.size);
    switch (options.preallocation) {
    case Preallocation::Off:
    case Preallocation::Metadata:
        if (options.size > 0)
            allocateFirstBlock(f, options.size);
        break;
    case Preallocation::Falloc:
        if (!f.preallocate(0, options.size))
            throwError(ENOTSUP, path, "Could not preallocate: fallocate is not supported");
        break;
    case Preallocation::Full:
        f.zeroRange(0, options.size);
        f.preallocate(0, options.size);
        break;
    }
    f.sync();
}

// QEMU's raw driver rounds a file's length up to a whole 512-byte sector; so do we, so that
// both export and show the same size.
uint64_t RawImage::size() const {
    return (fileLength_.load(std::memory_order_acquire) + 511) & ~uint64_t(511);
}

void RawImage::noteWriteEnd(uint64_t end) {
    uint64_t known = fileLength_.load(std::memory_order_acquire);
    if (end <= known)
        return;
    uint64_t now = file_.size();
    // Concurrent writers into the tail: keep the largest length seen.
    while (now > known &&
           !fileLength_.compare_exchange_weak(known, now, std::memory_order_acq_rel)) {
    }
}

std::array<uint8_t, kProbeBytes> RawImage::checkedFirstSector(uint64_t offset, uint64_t length,
                                                              const uint8_t* data, const char* op) {
    std::array<uint8_t, kProbeBytes> sector{};
    file_.read(0, sector); // past the end of a short file: zeros, as it reads once grown
    const size_t n = size_t(std::min<uint64_t>(length, kProbeBytes - offset));
    if (data)
        std::memcpy(sector.data() + offset, data, n);
    else
        std::memset(sector.data() + offset, 0, n);
    if (!probesAsRaw(sector)) {
        std::string format = qemuProbe(sector);
        if (format == "raw")
            format = openProbe(sector);
        throwError(EPERM, filename(),
                   std::string(op) + " refused: the image's format was probed as raw and this " +
                       "would make its first sector a " + format +
                       " header (give the format raw explicitly to allow it)");
    }
    return sector;
}

void RawImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file_.debugEvent(BlkdebugEvent::ReadAio);
    file_.read(offset, buf);
}

void RawImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    file_.debugEvent(BlkdebugEvent::WriteAio);
    if (guardsRequest(offset)) {
        std::lock_guard lock(firstSectorMutex_);
        auto sector = checkedFirstSector(offset, buf.size(), buf.data(), "write");
        // Write the checked copy of the first sector's part, not the caller's buffer again:
        // a guest may change its memory between the check and the write.
        const size_t n = size_t(std::min<uint64_t>(buf.size(), kProbeBytes - offset));
        file_.write(offset, std::span<const uint8_t>(sector).subspan(size_t(offset), n));
        if (buf.size() > n)
            file_.write(offset + n, buf.subspan(n));
    } else {
        file_.write(offset, buf);
    }
    noteWriteEnd(offset + buf.size());
    if (writeFlags & WriteFua)
        file_.sync();
}

void RawImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    std::unique_lock<std::mutex> lock;
    if (guardsRequest(offset)) {
        lock = std::unique_lock(firstSectorMutex_);
        checkedFirstSector(offset, length, nullptr, "write zeroes");
    }
    if (zeroFlags & ZeroMayUnmap)
        file_.punchHole(offset, length);
    else
        file_.zeroRange(offset, length);
    noteWriteEnd(offset + length);
    if (zeroFlags & ZeroFua)
        file_.sync();
}

void RawImage::doDiscard(uint64_t offset, uint64_t length) {
    std::unique_lock<std::mutex> lock;
    if (guardsRequest(offset)) {
        lock = std::unique_lock(firstSectorMutex_);
        checkedFirstSector(offset, length, nullptr, "discard");
    }
    file_.punchHole(offset, length);
}

void RawImage::doFlush() {
    file_.debugEvent(BlkdebugEvent::FlushToOs);
    if (changedSinceFlush())
        file_.debugEvent(BlkdebugEvent::FlushToDisk);
    file_.sync();
}

LayerExtent RawImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    uint64_t limit = offset + maxLength;
    uint64_t fileSize = fileLength_.load(std::memory_order_acquire);
    LayerExtent e;
    e.hostOffset = offset;
    if (offset >= fileSize) { // the zero tail of a file whose length is not a sector multiple
        e.kind = Allocation::Zero;
        e.length = maxLength;
        return e;
    }
    HostFile::Run run = file_.dataRun(offset, std::min(limit, fileSize));
    e.kind = run.data ? Allocation::Data : Allocation::Zero;
    e.length = run.end - offset;
    // Under O_DIRECT QEMU asks in whole sectors: data up to a mid-sector end of file covers
    // the rest of that sector too.
    if (directIo_ && run.data && run.end == fileSize && fileSize % kDirectAlignment)
        e.length = std::min(limit, (fileSize / kDirectAlignment + 1) * kDirectAlignment) - offset;
    if (!run.data && run.end == fileSize)
        e.length = maxLength;
    return e;
}

void RawImage::doTruncate(uint64_t newSize) {
    try {
        const bool wasEmpty = fileLength_.load(std::memory_order_acquire) == 0;
        file_.truncate(newSize);
        if (wasEmpty && newSize > 0)
            allocateFirstBlock(file_, newSize);
    } catch (...) {
        // BlockDriver::truncate may have grown the enabled bitmaps already: undo it.
        catalog_->resize(size());
        throw;
    }
    fileLength_.store(newSize, std::memory_order_release);
    catalog_->resize(size());
}

void RawImage::doPreallocatingTruncate(uint64_t newSize, Preallocation mode) {
    if (mode != Preallocation::Falloc && mode != Preallocation::Full) {
        BlockDriver::doPreallocatingTruncate(newSize, mode);
        return;
    }
    const uint64_t old = fileLength_.load(std::memory_order_acquire);
    try {
        if (mode == Preallocation::Falloc) {
            if (!file_.preallocate(old, newSize - old))
                throwError(ENOTSUP, filename(),
                           "Could not preallocate new data: fallocate is not supported");
        } else {
            static const std::vector<uint8_t> zeros(1 << 20, 0);
            for (uint64_t p = old; p < newSize;) {
                const uint64_t n = std::min<uint64_t>(newSize - p, zeros.size());
                file_.write(p, std::span(zeros.data(), size_t(n)));
                p += n;
            }
        }
        if (file_.size() != newSize)
            file_.truncate(newSize);
    } catch (...) {
        catalog_->resize(size());
        throw;
    }
    fileLength_.store(newSize, std::memory_order_release);
    catalog_->resize(size());
}

} // namespace e2kvm::block

#pragma once
// BlockDriver: one open disk image of any format (raw, qcow2, an NBD export, ...).
// The public methods validate the request (range, read-only) and tell the write observers
// (dirty bitmaps) about every change; formats implement the protected do* methods.
// All methods are thread-safe: the NBD server and the VM call them from several threads.
#include "BlockError.h"
#include "ImageDescription.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::block {

class BitmapCatalog;
class Blkdebug;
class InternalSnapshots;

enum WriteFlags : unsigned {
    WriteNone = 0,
    WriteFua = 1, // durable before the call returns
};

enum ZeroFlags : unsigned {
    ZeroNone = 0,
    ZeroMayUnmap = 1,   // the range may be deallocated (NBD WRITE_ZEROES without NO_HOLE)
    ZeroFua = 2,        // durable before the call returns
    ZeroNoFallback = 4, // fail with ENOTSUP rather than writing zeros slowly (NBD FAST_ZERO)
};

// How one layer (this image alone, ignoring its backing file) stores a range.
// How the area an image gains (created or grown) is set up, as QEMU's `preallocation`
// option: off (sparse), metadata (format tables only), falloc (host space reserved),
// full (zeros written).
enum class Preallocation { Off, Metadata, Falloc, Full };
// QEMU's name of a mode ("off", "metadata", "falloc", "full").
const char* preallocationName(Preallocation mode);

enum class Allocation {
    Unallocated, // not stored here: reads come from the backing file, or zeros if none
    Data,        // stored here as data
    Zero,        // stored here as "reads as zero" (qcow2 zero cluster, raw hole)
};

struct LayerExtent {
    uint64_t length = 0; // > 0, bytes starting at the queried offset with this status
    Allocation kind = Allocation::Unallocated;
    // Where the data lives in hostFile (raw: same offset; qcow2: cluster offset), if fixed.
    std::optional<uint64_t> hostOffset;
    bool compressed = false;
    // Data known to read as zero (an NBD extent with "zero" but not "hole"): `map` says both.
    bool dataReadsAsZero = false;
};

// Something that must hear about every change to an image's contents (a dirty bitmap).
class WriteObserver {
public:
    virtual ~WriteObserver() = default;
    virtual void contentsChanged(uint64_t offset, uint64_t length) = 0;
    // The image is about to grow from oldSize to newSize. By default the new area counts as
    // changed; a dirty bitmap overrides this, since QEMU leaves grown areas clean in bitmaps.
    virtual void sizeGrowing(uint64_t oldSize, uint64_t newSize) {
        contentsChanged(oldSize, newSize - oldSize);
    }
};

// Something that must act before a change to an image's contents reaches the format, and may
// refuse it: copy-before-write keeps a point in time this way. Unlike a WriteObserver it runs
// with no lock of the image held, may block, and fails the change by throwing (BlockError).
class WriteInterceptor {
public:
    virtual ~WriteInterceptor() = default;
    // [offset, offset+length) is about to change (write, zero write, discard, compressed write).
    virtual void beforeChange(uint64_t offset, uint64_t length) = 0;
};

// Something that must know which ranges of an image are being read: a point-in-time view holds
// back changes to its source while a read of the view may still look at the source.
class ReadGuard {
public:
    virtual ~ReadGuard() = default;
    virtual void beginRead(uint64_t offset, uint64_t length) = 0;
    virtual void endRead(uint64_t offset, uint64_t length) = 0;
};

class BlockDriver {
public:
    virtual ~BlockDriver() = default;
    BlockDriver(const BlockDriver&) = delete;
    BlockDriver& operator=(const BlockDriver&) = delete;

    // "raw", "qcow2", "nbd"
    virtual std::string formatName() const = 0;
    // QEMU's protocol name when the node's driver is a protocol as well as a format (null-co,
    // nbd, blkdebug), else empty: qemu-io's `info` prints it as a second format name.
    virtual std::string protocolName() const { return {}; }
    // Whether QEMU can tell this node's driver information (cluster size, VM state offset):
    // formats and host files can; null-co and NBD exports, and raw over them, cannot (qemu-io's
    // `info` then stops after the format name and fails).
    virtual bool hasDriverInfo() const { return true; }
    // The name the image was opened with (file path or URI).
    const std::string& filename() const { return filename_; }
    // Renames the image as reported (not the file it reads): an image opened under a wrapping
    // name ("blkdebug:CONF:PATH") reports that name, as QEMU does. Before the image is shared.
    void setFilename(std::string name) { filename_ = std::move(name); }
    bool readOnly() const { return readOnly_; }
    // Virtual disk size in bytes.
    virtual uint64_t size() const = 0;
    // Bytes the image occupies on the host ("disk size" in info); 0 if unknown.
    virtual uint64_t allocatedBytes() const { return 0; }
    // Whether allocatedBytes() can be told at all; QEMU cannot across a blkdebug injector
    // (its "disk size: unavailable").
    virtual bool allocatedBytesKnown() const { return blkdebug() == nullptr; }
    // The backing image, if any (owned by this driver).
    virtual BlockDriver* backing() const { return nullptr; }
    // The file LayerExtent::hostOffset points into (a qcow2 external data file, or this image).
    virtual std::string dataFilename() const { return filename(); }
    // A descriptor from which the data at LayerExtent::hostOffset can be read directly (the NBD
    // server sends it with sendfile), or -1. Offered only while no write can move data to
    // another host offset: raw always, qcow2 when opened read-only.
    virtual int directReadFd() const { return -1; }
    // Whether a range this layer leaves unallocated, with no backing file, is known to read
    // as zero (block status "zero"). Only null-co without read-zeroes says no, as in QEMU.
    virtual bool unallocatedReadsAsZero() const { return true; }
    // Whether a zero write that may unmap becomes a hole punched in the host file itself (raw),
    // rather than clusters the format frees in its own metadata (qcow2). Exports that must not
    // unmap (QEMU's discard=ignore) drop ZeroMayUnmap only for such layers, as QEMU does.
    virtual bool unmapPunchesHostFile() const { return false; }
    // The error injector (blkdebug) under this image's format, if any: qemu-io's break,
    // resume and remove_break act on it.
    virtual Blkdebug* blkdebug() const { return nullptr; }
    // Cluster size for formats that have one, else 0.
    virtual uint32_t clusterSize() const { return 0; }
    // Format details for `info` (qcow2 header fields, backing names, bitmaps...).
    virtual void describe(ImageDescription& out) const;

    // Reads [offset, offset+buf.size()); throws BlockError(EINVAL) past end of disk.
    void read(uint64_t offset, std::span<uint8_t> buf);
    void write(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags = WriteNone);
    void writeZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags = ZeroNone);
    // Discards a range: afterwards it reads as zero or from the backing file.
    void discard(uint64_t offset, uint64_t length);
    void flush();
    // Status of this layer alone at `offset`, for at most `maxLength` bytes (clamped to size).
    LayerExtent layerStatus(uint64_t offset, uint64_t maxLength);
    // Changes the virtual size. Shrinking drops data past the new end.
    void truncate(uint64_t newSize);
    // Grows the virtual size with the new area preallocated as QEMU's resize --preallocation
    // does (`Off` is plain truncate()); throws ENOTSUP for a mode the driver has not, and
    // for shrinking.
    void truncate(uint64_t newSize, Preallocation mode);
    // Writes a whole cluster compressed (qcow2 only; ENOTSUP elsewhere). `offset` cluster-aligned,
    // data one cluster long (or up to the end of the disk).
    void writeCompressed(uint64_t offset, std::span<const uint8_t> data);
    virtual bool supportsCompression() const { return false; }
    // The saved machine state a format keeps beside the guest data (qcow2: in the clusters
    // past the last L2 table's worth of guest data), at `pos` within it. ENOTSUP for formats
    // without one.
    void writeVmState(uint64_t pos, std::span<const uint8_t> data);
    void readVmState(uint64_t pos, std::span<uint8_t> buf);
    // The named dirty bitmaps of this image (persistent ones for qcow2), or null if the format
    // has none.
    virtual BitmapCatalog* bitmaps() { return nullptr; }
    // The snapshots kept inside the image (qcow2), or null if the format has none.
    virtual InternalSnapshots* snapshots() { return nullptr; }

    void addWriteObserver(std::shared_ptr<WriteObserver> observer);
    void removeWriteObserver(const WriteObserver* observer);

    // While a ChangesPaused lives, no change to the image is in flight and new ones wait: what
    // is set up meanwhile (a bitmap copied, an interceptor added) sees one point in time. The
    // pausing thread must not change the image itself before releasing it.
    class ChangesPaused {
    public:
        explicit ChangesPaused(BlockDriver& image) : image_(&image), lock_(image.changeGate_) {}
        BlockDriver& image() const { return *image_; }

    private:
        BlockDriver* image_;
        std::unique_lock<std::shared_mutex> lock_;
    };
    // Interceptors run before every later change (and make resizing fail with EBUSY). Adding or
    // removing one waits for the changes in flight, unless `paused` (of this image) is given.
    void addWriteInterceptor(std::shared_ptr<WriteInterceptor> interceptor,
                             const ChangesPaused* paused = nullptr);
    void removeWriteInterceptor(const WriteInterceptor* interceptor);
    bool hasWriteInterceptors() const { return anyInterceptor_.load(std::memory_order_acquire); }
    // The read guard told about every read (null removes it). At most one.
    void setReadGuard(std::shared_ptr<ReadGuard> guard);

protected:
    BlockDriver(std::string filename, bool readOnly)
        : filename_(std::move(filename)), readOnly_(readOnly) {}

    virtual void doRead(uint64_t offset, std::span<uint8_t> buf) = 0;
    virtual void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) = 0;
    virtual void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) = 0;
    virtual void doDiscard(uint64_t offset, uint64_t length) = 0;
    virtual void doFlush() = 0;
    virtual LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) = 0;
    virtual void doTruncate(uint64_t newSize) = 0;
    // Growth with preallocation (mode not Off, newSize > size()); the default supports none.
    virtual void doPreallocatingTruncate(uint64_t newSize, Preallocation mode);
    virtual void doWriteCompressed(uint64_t offset, std::span<const uint8_t> data);
    virtual void doWriteVmState(uint64_t pos, std::span<const uint8_t> data);
    virtual void doReadVmState(uint64_t pos, std::span<uint8_t> buf);

    // Whether the contents changed since the last successful flush began (QEMU raises the
    // flush_to_disk event only then).
    bool changedSinceFlush() const {
        return writeGeneration_.load(std::memory_order_relaxed) !=
               flushedGeneration_.load(std::memory_order_relaxed);
    }
    // Throws EINVAL unless [offset, offset+length) lies within the disk.
    void checkRange(uint64_t offset, uint64_t length, const char* op) const;
    // The errno of a request past the end (EINVAL; a raw window of fixed size: ENOSPC).
    virtual int pastEndErrno() const { return EINVAL; }
    // Whether a write past the end grows the disk instead of failing (a raw window without a
    // fixed size over a file, as QEMU's raw passes a format's allocations to its file).
    virtual bool writesGrowDisk() const { return false; }
    void checkWritable(const char* op) const;

private:
    class ChangeScope;
    void notifyObservers(uint64_t offset, uint64_t length);
    void notifyGrowth(uint64_t oldSize, uint64_t newSize);
    void readGuarded(uint64_t offset, std::span<uint8_t> buf);

    std::string filename_;
    bool readOnly_;
    std::atomic<uint64_t> writeGeneration_{0}; // changes begun
    std::atomic<uint64_t> flushedGeneration_{0};
    std::mutex observersMutex_;
    std::vector<std::shared_ptr<WriteObserver>> observers_;
    // Shared by every change in flight, exclusive while interceptors change (ChangesPaused).
    std::shared_mutex changeGate_;
    std::vector<std::shared_ptr<WriteInterceptor>> interceptors_; // under changeGate_
    std::atomic<bool> anyInterceptor_{false};
    std::mutex readGuardMutex_;
    std::shared_ptr<ReadGuard> readGuard_;
    std::atomic<bool> anyReadGuard_{false};
};

} // namespace e2kvm::block

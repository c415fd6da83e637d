#pragma once
// Qcow2Driver: the BlockDriver of one open qcow2 image: L1/L2 mapping, allocation with
// copy-on-write over a backing file, zero clusters, discard, compressed clusters, resize.
// With an external data file (incompatible bit 2) guest data lives there at host offset =
// guest offset, unrefcounted; this file holds only metadata (tables, refcounts, bitmaps).
// Metadata changes happen under one mutex. They reach the file in an order that a power cut
// cannot turn into a corrupt image (at worst leaked clusters): refcount increments, new
// tables and guest data are written at once; changed L2 and L1 entries stay dirty in memory
// until a metadata barrier (guest flush, FUA, a full cache, close), which syncs, writes them,
// and syncs again; refcount decrements of clusters they no longer point at come after that.
// I/O to clusters that are already allocated runs outside the mutex, so requests on
// different clusters proceed in parallel.
#include "Qcow2Compression.h"
#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2L2Cache.h"
#include "Qcow2Refcounts.h"
#include "Qcow2SnapshotTable.h"
#include "block/BlockDriver.h"
#include "block/HostFile.h"
#include "block/ImageOpen.h"
#include "block/InternalSnapshots.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>

namespace e2kvm::block::qcow2 {

class Qcow2Bitmaps;

class Qcow2Driver final : public BlockDriver, public InternalSnapshots {
public:
    Qcow2Driver(const std::string& path, const OpenOptions& options);
    ~Qcow2Driver() override;

    std::string formatName() const override { return "qcow2"; }
    uint64_t size() const override;
    uint64_t allocatedBytes() const override { return file_.allocatedBytes(); }
    bool allocatedBytesKnown() const override {
        return blkdebug() == nullptr && file_.allocatedBytesKnown();
    }
    BlockDriver* backing() const override { return backing_.get(); }
    uint32_t clusterSize() const override { return uint32_t(cs_); }
    void describe(ImageDescription& out) const override;
    // The format can compress; with an external data file each compressed write fails
    // (ENOTSUP), as in QEMU, which checks the driver and not the image.
    bool supportsCompression() const override { return true; }
    std::string dataFilename() const override;
    int directReadFd() const override;
    BitmapCatalog* bitmaps() override;
    Blkdebug* blkdebug() const override { return file_.blkdebug().get(); }
    InternalSnapshots* snapshots() override { return this; }

    // Internal snapshots (Qcow2Snapshots.cpp), as QEMU's qcow2 driver keeps them.
    std::vector<InternalSnapshot> listSnapshots() const override;
    InternalSnapshot createSnapshot(const InternalSnapshot& want) override;
    void applySnapshot(const std::string& idOrName) override;
    void loadSnapshotReadOnly(const std::optional<std::string>& id,
                              const std::optional<std::string>& name) override;
    void deleteSnapshot(const std::optional<std::string>& id,
                        const std::optional<std::string>& name) override;

    // Live changes of the backing chain (QMP snapshots, block-stream, block-commit;
    // Qcow2BackingLink.cpp). The backing image as shared ownership (null if none):
    std::shared_ptr<BlockDriver> backingImage() const;
    // From now on unallocated clusters read from `backing` (null: zeros); waits for the
    // requests in flight. The header is not touched.
    void replaceBacking(std::shared_ptr<BlockDriver> backing);
    // Rewrites the backing file name and format the header records (an empty name removes
    // them), after every earlier change is durable; the backing link itself stays.
    void changeBackingFile(const std::string& name, const std::string& format);
    // Another instance of the same file (opened writable for the purpose) rewrote the header's
    // backing file name and format: this one shows them too, as QEMU's node after a reopen.
    void noteBackingFileChanged(const std::string& name, const std::string& format);
    // QEMU's auto_backing_file: the name of the backing file this layer would open by itself
    // (the header's name, or the name of the backing it did open from it), which a backing of
    // another name overrides. Set at open and by changeBackingFile.
    std::string autoBackingFile() const;

    // Copy-on-read (Qcow2Populate.cpp): `bytes` (what the chain below shows at `offset`) go
    // into the clusters that are still unallocated in this layer, zeros as zero clusters;
    // clusters a guest wrote meanwhile keep their data.
    void populate(uint64_t offset, std::span<const uint8_t> bytes);

    // Checks and applies QEMU's qcow2 runtime options among `options` (Qcow2RuntimeOptions.h:
    // the overlap checks take effect), as an open or reopen with them does; throws
    // BlockError(EINVAL) with QEMU's message and changes nothing when one is wrong.
    void applyRuntimeOptions(const std::map<std::string, std::string>& options);

    // Fills clusters [0, size) with allocated clusters (create-time preallocation).
    void preallocate(Preallocation mode);
    // Makes every guest cluster unallocated (reads from the backing file again), as QEMU's
    // fallback for emptying an image after commit (Qcow2MakeEmpty.cpp).
    void discardAllClusters();

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;
    void doPreallocatingTruncate(uint64_t newSize, Preallocation mode) override;
    void doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) override;
    void doWriteVmState(uint64_t pos, std::span<const uint8_t> data) override;
    void doReadVmState(uint64_t pos, std::span<uint8_t> buf) override;
    // Where the VM state begins: the first guest offset past the L1 entries the disk needs.
    uint64_t vmStateOffset() const;

private:
    struct Run {
        ClusterType type = ClusterType::Unallocated;
        uint64_t clusters = 0; // > 0
        uint64_t entry = 0;    // L2 entry of the first cluster
        bool copied = false;
    };
    using Table = Qcow2L2Cache::Table;

    CompressionType compressionType() const { return CompressionType(h_.compressionType); }

    Table loadL2(uint64_t offset, uint64_t l1Index);
    uint64_t l2Entry(uint64_t cluster);
    Run mapRun(uint64_t cluster, uint64_t maxClusters, bool forWrite);
    Table writableL2(uint64_t l1Index, uint64_t* tableOffset);
    void writeL2Span(uint64_t tableOffset, const std::vector<uint64_t>& t, uint64_t first,
                     uint64_t last);
    void writeL1Entry(uint64_t index);
    // With meta_ held: entries [first, last] of L2 table `t` changed; written at the next
    // barrier, after what they point at is durable.
    void markL2Dirty(uint64_t tableOffset, const Table& t, uint64_t first, uint64_t last);
    // With meta_ held: after the L2/L1 change that dropped `entry` (or the L2 table at
    // `l2Table`) is durable, its clusters lose a reference (freed ones are punched if `punch`).
    void deferRelease(uint64_t entry, bool punch);
    void deferRelease(uint64_t first, uint64_t count, bool punch, bool l2Table);
    // With meta_ held: makes every change so far durable in crash-safe order: sync (data,
    // refcount increments, new tables), write dirty L2 and L1 entries, sync, then apply the
    // deferred reference drops. syncData=false leaves the external data file out of the first
    // sync (closing after its flush failed, see the destructor).
    void barrier(bool syncData = true);
    void applyReleases();
    // Whether the refcount blocks of clusters [first, first + count) can be loaded; if not,
    // reported as QEMU's failed qcow2_free_clusters.
    bool refcountBlocksLoadable(uint64_t first, uint64_t count);
    void writeHeader();
    // With meta_ held after a barrier: a new active L1 table of `entries` entries (the old
    // entries copied, the rest zero) replaces the old one, which is freed.
    void replaceL1(uint64_t entries);
    // Snapshot helpers (meta_ held, after a barrier). Adds `addend` (-1, 0, +1) to the refcount
    // of every cluster `l1` references and sets the COPIED flags of its L2 entries and of `l1`
    // itself to refcount == 1; returns whether `l1` changed.
    bool updateSnapshotRefcounts(std::vector<uint64_t>& l1, int addend);
    std::vector<uint64_t> readL1Table(uint64_t offset, uint32_t entries, uint64_t padTo);
    void writeL1Table(uint64_t offset, const std::vector<uint64_t>& l1);
    // Writes snapshots_ as a new table, points the header at it, frees the old one.
    void writeSnapshotTable();
    void writeHeaderFields(uint64_t from, uint64_t to);
    // Lazy refcounts (meta_ held): turns the deferral of refcount updates on or off (off
    // writes them and clears the dirty bit).
    void useLazyRefcounts(bool on);
    // Sets the dirty bit on disk (synced) before refcount updates are held back.
    void markDirty();
    // Writes the held-back refcount updates and clears the dirty bit (both synced).
    void markClean();
    void readBacking(uint64_t offset, std::span<uint8_t> buf);
    void readCompressed(uint64_t entry, std::span<uint8_t> cluster);
    void readOldCluster(uint64_t entry, uint64_t cluster, std::span<uint8_t> out);
    void punchFreed(HostFile& f, std::vector<uint64_t>& freed);
    void punchFreed(std::vector<uint64_t>& freed) { punchFreed(file_, freed); }
    // Drops a reference to the clusters of [offset, offset + bytes) as QEMU's
    // qcow2_free_clusters: a failure is reported (LogLevel::Leak) and not thrown; the clusters
    // stay leaked.
    void freeClustersOrLeak(uint64_t offset, uint64_t bytes);
    // The file guest data clusters live in: the external data file, or this image's file.
    HostFile& data();
    void openDataFile(const OpenOptions& options);
    // External data file: after clusters [first, first+count) became zero (or were discarded),
    // make the data file agree: freed clusters are punched, and a raw data file reads as zero.
    void syncDataZeroes(uint64_t first, uint64_t count, const std::vector<uint64_t>& released,
                        bool unmap);
    void preallocateClusters(uint64_t first, uint64_t count, Preallocation mode, uint64_t* end);
    // `allocateSubclusters`: with extended L2 entries, the new clusters' subclusters become
    // allocated (they read the fresh zeros instead of the backing file).
    void preallocateDataArea(Preallocation mode, uint64_t firstCluster,
                             std::span<const uint8_t> head, bool allocateSubclusters = false);
    // Changes the virtual size; growth preallocates the new area as `mode` says.
    void resize(uint64_t newSize, Preallocation mode);
    // Shrinking (meta_ held): guest clusters [first, last) become unallocated; their clusters,
    // and L2 tables wholly past the end, lose their reference at the next barrier.
    void dropClustersFrom(uint64_t first, uint64_t last);
    // Syncs the data file (unless syncData is false), then the image file. A failed sync of
    // the data file is noted in dataSyncFailed_.
    void syncAll(bool syncData = true);
    void writeImpl(uint64_t offset, std::span<const uint8_t> buf);
    uint64_t writeInPlace(std::unique_lock<std::mutex>& lock, const Run& r, uint64_t c, uint64_t in,
                          std::span<const uint8_t> buf, uint64_t* chain);
    // Writes `data` into clusters [cluster, cluster+n) that need new host clusters. With
    // `chain` (the host offset right after the previous piece of the same request, 0 if none),
    // the clusters are taken there first if free, as QEMU does, possibly fewer than `n`; it is
    // set to the end of the clusters used. Returns the bytes of `data` written.
    size_t allocatingWrite(std::unique_lock<std::mutex>& lock, uint64_t cluster, uint64_t n,
                           uint64_t inCluster, std::span<const uint8_t> data,
                           uint64_t* chain = nullptr);
    void writeNewClusters(uint64_t cluster, uint64_t n, uint64_t inCluster,
                          std::span<const uint8_t> data, uint64_t host,
                          const std::vector<uint64_t>& old);
    bool backingReadsAsZero(uint64_t from, uint64_t to);
    bool edgeMayBecomeZero(uint64_t from, uint64_t to);
    void zeroClusters(uint64_t first, uint64_t count, bool unmap);
    // `full`: entries become unallocated even where the backing file then shows through.
    void discardClusters(uint64_t first, uint64_t count, bool full = false);
    void openBacking(const OpenOptions& options);
    // An L2 entry's host offset: unaligned is a corruption (signalCorruption).
    void checkEntryOffset(uint64_t hostOffset, uint64_t cluster, ClusterType type, bool forWrite);
    // Corruption of the image's metadata (Qcow2Corruption.cpp): reports it as QEMU does,
    // marks a writable image corrupt when `fatal` and detaches it; always throws EIO.
    [[noreturn]] void signalCorruption(bool fatal, const std::string& what);
    // signalCorruption without the exception: the request goes on (QEMU's non-fatal reports).
    void reportCorruption(bool fatal, const std::string& what);
    // Throws ENOMEDIUM once the image was marked corrupt (QEMU's driver is detached then).
    void checkAttached() const;
    // The first structure (Qcow2Overlap.h bit) among the checked ones but `ignore` that
    // [hostOffset, +length) overlaps, or 0.
    unsigned metadataOverlap(uint64_t hostOffset, uint64_t length, unsigned ignore);
    // A new structure (`what`: "L2 table", "refcount block", "compressed cluster") that the
    // allocator placed at offset 0 or onto other metadata is a fatal corruption.
    void checkMetadataPlacement(uint64_t hostOffset, uint64_t length, const char* what);
    // A write there that would overwrite metadata is a fatal corruption.
    void checkNoMetadataOverlap(uint64_t hostOffset, uint64_t length, unsigned ignore = 0);
    void checkInsideFile(uint64_t hostOffset, uint64_t length);

    // ---- extended L2 entries (Qcow2Subclusters.cpp) ----
    // A cached L2 table of such an image holds the entries, then the bitmaps.
    enum class SubType {
        UnallocPlain,
        ZeroPlain,
        UnallocAlloc,
        ZeroAlloc,
        Normal,
        Compressed,
        Invalid
    };
    // What subcluster `sc` of the cluster with `entry` and `bitmap` is.
    SubType subType(uint64_t entry, uint64_t bitmap, unsigned sc) const;
    // With meta_ held: the bitmap of guest cluster `cluster` (0 if it has no L2 table).
    uint64_t l2Bitmap(uint64_t cluster);
    struct SubRun {
        SubType type = SubType::UnallocPlain;
        uint64_t bytes = 0;      // > 0
        uint64_t entry = 0;      // L2 entry of the first cluster
        uint64_t hostOffset = 0; // of the first byte (types with a host cluster)
    };
    // With meta_ held: the subclusters from guest `offset` on (at most `maxBytes`) that are of
    // one type (and, with a host cluster, contiguous on the host). Invalid entries are a
    // corruption (`forWrite` picks QEMU's wording).
    SubRun subRun(uint64_t offset, uint64_t maxBytes);
    [[noreturn]] void invalidEntry(uint64_t cluster, bool forWrite);
    void extRead(uint64_t offset, std::span<uint8_t> buf);
    void extWrite(uint64_t offset, std::span<const uint8_t> buf);
    // With meta_ held (released on return): one piece of extWrite into clusters of ours
    // (`keep`) or new ones; returns the bytes written.
    uint64_t extWritePiece(std::unique_lock<std::mutex>& lock, uint64_t offset,
                           std::span<const uint8_t> buf, uint64_t* chain);
    void extWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags);
    // QEMU's driver-level zero write of [offset, +bytes) (within one subcluster when not
    // aligned): false when it must fall back to writing zeros.
    bool extTryZero(uint64_t offset, uint64_t bytes, bool unmap);
    // With meta_ held: subcluster-aligned [offset, +bytes) reads as zero through the bitmaps
    // (whole clusters through zeroClusters). False, with the parts before done, at a
    // compressed cluster that would be zeroed in part.
    bool zeroizeSubclusters(uint64_t offset, uint64_t bytes, bool unmap);
    bool zeroSubclustersOf(uint64_t cluster, unsigned first, unsigned count);
    LayerExtent extLayerStatus(uint64_t offset, uint64_t maxLength);
    void zeroClustersExt(uint64_t first, uint64_t count, bool unmap);
    // populate() with subclusters: only subclusters that are still unallocated take the bytes.
    void populateSubclusters(uint64_t offset, std::span<const uint8_t> bytes);
    void discardClustersExt(uint64_t first, uint64_t count, bool full);

    HostFile file_;
    Qcow2Header h_;
    bool ext_ = false;           // extended L2 entries
    uint32_t scBits_ = 0;        // bits of a subcluster's size (cluster bits with no subclusters)
    unsigned overlapChecks_ = 0; // Qcow2Overlap.h bits
    bool corruptionReported_ = false;   // (meta_)
    std::atomic<bool> detached_{false}; // marked corrupt: no more requests
    std::atomic<uint64_t> size_{0};
    uint64_t knownFileSize_ = 0; // a lower bound of the file size (meta_)
    uint64_t cs_ = 0;
    uint32_t cb_ = 0;
    uint64_t l2Entries_ = 0;
    std::vector<uint64_t> l1_;
    std::set<uint64_t> l1Dirty_; // L1 entries changed in memory only (meta_)
    struct Release {
        uint64_t first;
        uint64_t count;
        bool punch;
        bool l2Table;
    };
    std::vector<Release> releases_; // reference drops waiting for the next barrier (meta_)
    std::unique_ptr<Qcow2Refcounts> rc_;
    Qcow2L2Cache l2Cache_;
    std::shared_ptr<BlockDriver> backing_; // shared when given as OpenOptions::backingNode
    std::string fullBackingPath_;
    // (guarded by meta_ once open)
    std::string autoBackingFile_;
    bool external_ = false;    // guest data lives in an external data file
    bool externalRaw_ = false; // ... which is a valid raw image of the disk (data_file_raw)
    std::string dataFilePath_; // resolved path of the external data file
    std::unique_ptr<HostFile> dataFile_; // null: not external, or opened for metadata only
    bool dataSyncFailed_ = false;        // a sync of dataFile_ failed
    mutable std::mutex meta_;
    // Whether the image looks metadata-preallocated (QEMU's guess, made once on the first block
    // status query): far more clusters are in use than the host has allocated. Then block
    // status asks the data file whether a data cluster is a hole there (reads as zero).
    // Guarded by meta_.
    std::optional<bool> metadataPreallocated_;
    bool looksMetadataPreallocated();
    // Guest cluster ranges whose new clusters are being written outside meta_; other writers
    // of those clusters wait for them.
    std::vector<std::pair<uint64_t, uint64_t>> inflight_;
    std::condition_variable inflightDone_;
    // With meta_ held by `lock`: waits until no range in inflight_ overlaps guest clusters
    // [first, first + count).
    void waitForInflight(std::unique_lock<std::mutex>& lock, uint64_t first, uint64_t count);
    std::shared_mutex gate_; // shared: I/O to mapped clusters; exclusive: freeing clusters
    std::vector<Qcow2SnapshotEntry> snapshots_; // the table the header points to (meta_)
    uint64_t snapshotTableBytes_ = 0;
    std::unique_ptr<Qcow2Bitmaps> bitmaps_; // last: saved and destroyed first
};

} // namespace e2kvm::block::qcow2

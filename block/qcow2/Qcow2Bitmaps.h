#pragma once
// Qcow2Bitmaps: the persistent dirty bitmaps of one open qcow2 image. Loads them on open, marks
// them in use while the image is open read-write and saves them on close (new data clusters,
// tables and directory, then the header, then the old clusters are freed), as QEMU does. Owns
// the image's BitmapCatalog.
#include "Qcow2Header.h"
#include "Qcow2Refcounts.h"
#include "block/BlockDriver.h"
#include "block/HostFile.h"
#include "block/ImageDescription.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace e2kvm::block::qcow2 {

class Qcow2Bitmaps final : public BitmapStore {
public:
    // What the bitmaps need of the driver. `withMetadataLock(f)` runs f with no I/O in flight
    // and the metadata lock held; `writeHeader` rewrites cluster 0 from `header`.
    struct Access {
        HostFile& file;
        Qcow2Header& header;
        Qcow2Refcounts& refcounts;
        std::function<void()> writeHeader;
        std::function<void(const std::function<void()>&)> withMetadataLock;
    };

    // Reads the bitmaps of the image; on a read-write open, marks the consistent ones in use.
    // Throws BlockError if the bitmap metadata is invalid (QEMU refuses such images too).
    Qcow2Bitmaps(BlockDriver& image, Access access, bool writable);
    ~Qcow2Bitmaps() override;

    BitmapCatalog& catalog() { return *catalog_; }
    void describe(std::vector<BitmapDescription>& out) const;
    // Saves every persistent bitmap (metadata lock NOT held). Unless `closing`, the bitmaps are
    // marked in use again afterwards because the image stays open for writing.
    void save(bool closing);

    void saveForClose() override;
    uint64_t defaultGranularity() const override;
    void checkCanStore(const std::string& name, uint64_t granularity,
                       std::span<const NamedBitmap> existing) const override;

private:
    Qcow2BitmapImageGeometry geometry(uint64_t diskSize) const;
    std::vector<NamedBitmap> load();
    std::shared_ptr<DirtyBitmap> loadData(const Qcow2BitmapDirEntry& e, uint64_t diskSize);
    void markInUse();
    void store(const std::vector<NamedBitmap>& bitmaps);
    uint64_t writeClusters(std::span<const uint8_t> bytes);
    void freeBitmapClusters(const Qcow2BitmapDirEntry& e, std::vector<uint64_t>& clusters);
    void syncHeader();

    BlockDriver& image_;
    Access a_;
    bool writable_;
    uint64_t cs_;
    std::vector<Qcow2BitmapDirEntry> onDisk_; // the directory the header points to now
    // For each entry of onDisk_, the in-memory bitmap it holds (null: inconsistent). A bitmap
    // removed and added again under its name is another object: a new bitmap to QEMU.
    std::map<std::string, const DirtyBitmap*> storedObjects_;
    uint64_t dirOffset_ = 0;
    uint64_t dirSize_ = 0;
    bool inUseOnDisk_ = false; // consistent bitmaps on disk carry in_use (we are writing)
    // Set by saveForClose; a later write or catalog change makes closing save again.
    bool savedForClose_ = false;
    uint64_t savedGeneration_ = 0;
    std::shared_ptr<std::atomic<bool>> writtenSinceSave_;
    std::shared_ptr<WriteObserver> writeWatch_;
    std::unique_ptr<BitmapCatalog> catalog_;
};

} // namespace e2kvm::block::qcow2

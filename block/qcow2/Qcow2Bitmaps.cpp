#include "Qcow2Bitmaps.h"

#include "Qcow2Format.h"
#include "block/BlockError.h"
#include "block/BlockLog.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace e2kvm::block::qcow2 {

namespace {

// Notes that the image was written (after the bitmaps were saved for closing).
class WriteWatch final : public WriteObserver {
public:
    explicit WriteWatch(std::shared_ptr<std::atomic<bool>> flag) : flag_(std::move(flag)) {}
    void contentsChanged(uint64_t, uint64_t) override {
        flag_->store(true, std::memory_order_relaxed);
    }

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

} // namespace

Qcow2Bitmaps::Qcow2Bitmaps(BlockDriver& image, Access access, bool writable)
    : image_(image), a_(std::move(access)), writable_(writable), cs_(a_.header.clusterSize()) {
    std::vector<NamedBitmap> loaded = load();
    if (writable_ && std::any_of(onDisk_.begin(), onDisk_.end(),
                                 [](const Qcow2BitmapDirEntry& e) { return !e.inUse(); }))
        markInUse();
    catalog_ = std::make_unique<BitmapCatalog>(image_, this, std::move(loaded), writable_);
}

Qcow2Bitmaps::~Qcow2Bitmaps() {
    if (writeWatch_)
        image_.removeWriteObserver(writeWatch_.get());
}

void Qcow2Bitmaps::saveForClose() {
    if (!writable_)
        return;
    if (!writeWatch_) {
        writtenSinceSave_ = std::make_shared<std::atomic<bool>>(false);
        writeWatch_ = std::make_shared<WriteWatch>(writtenSinceSave_);
        image_.addWriteObserver(writeWatch_);
    }
    writtenSinceSave_->store(false);
    save(true);
    savedForClose_ = true;
    savedGeneration_ = catalog_->generation();
}

Qcow2BitmapImageGeometry Qcow2Bitmaps::geometry(uint64_t diskSize) const {
    Qcow2BitmapImageGeometry g;
    g.clusterSize = uint32_t(cs_);
    g.diskSize = diskSize;
    g.fileSize = a_.file.size();
    return g;
}

std::vector<NamedBitmap> Qcow2Bitmaps::load() {
    Qcow2Header& h = a_.header;
    const std::string& path = image_.filename();
    if (!h.bitmapsExtension)
        return {};
    if (h.version < 3 || !(h.autoclear & kAutoclearBitmaps)) {
        // Someone who does not know bitmaps wrote the image: nothing in the extension can be
        // trusted. It is dropped with the next header update (its clusters leak until
        // `check -r`).
        logMessage(LogLevel::Warning, path,
                   "a program lacking bitmap support modified this file, so all bitmaps are now "
                   "considered inconsistent\n"
                   "Some clusters may be leaked, run 'qemu-img check -r' on the image file to "
                   "fix.");
        h.bitmapsExtension.reset();
        return {};
    }
    const uint64_t diskSize = h.size;
    Qcow2BitmapImageGeometry g = geometry(diskSize);
    Qcow2BitmapsExtension ext = parseQcow2BitmapsExtension(*h.bitmapsExtension, g, path);
    std::vector<uint8_t> dir(size_t(ext.directorySize));
    a_.file.readExact(ext.directoryOffset, dir, "bitmap directory");
    onDisk_ = parseQcow2BitmapDirectory(dir, ext, g, path);
    dirOffset_ = ext.directoryOffset;
    dirSize_ = ext.directorySize;
    // Each bitmap is at most 512 MiB (checked above); a hostile image listing thousands of
    // them must not make us allocate without bound.
    constexpr uint64_t kMaxLoadedBytes = uint64_t{4} << 30;
    uint64_t total = 0;
    for (const Qcow2BitmapDirEntry& e : onDisk_)
        if (!e.inUse())
            total += qcow2BitmapDataSize(diskSize, e.granularityBits);
    if (total > kMaxLoadedBytes)
        throwError(EFBIG, path,
                   "the bitmaps need " + std::to_string(total) +
                       " bytes of memory together, more than the supported 4 GiB");
    std::vector<NamedBitmap> out;
    for (const Qcow2BitmapDirEntry& e : onDisk_) {
        NamedBitmap b;
        b.name = e.name;
        b.granularity = e.granularity();
        b.enabled = e.autoEnabled();
        b.persistent = true;
        b.inconsistent = e.inUse();
        if (!b.inconsistent)
            b.bitmap = loadData(e, diskSize);
        storedObjects_[b.name] = b.bitmap.get();
        out.push_back(std::move(b));
    }
    return out;
}

std::shared_ptr<DirtyBitmap> Qcow2Bitmaps::loadData(const Qcow2BitmapDirEntry& e,
                                                    uint64_t diskSize) {
    std::vector<uint8_t> raw(size_t(e.tableSize) * 8);
    a_.file.readExact(e.tableOffset, raw, "bitmap table");
    std::vector<Qcow2BitmapTableEntry> table =
        parseQcow2BitmapTable(raw, geometry(diskSize), image_.filename(), e.name);
    auto bm = std::make_shared<DirtyBitmap>(diskSize, e.granularity());
    const uint64_t dataSize = bm->serializedSize();
    std::vector<uint8_t> buf(cs_);
    for (size_t i = 0; i < table.size(); ++i) {
        uint64_t off = uint64_t(i) * cs_;
        if (off >= dataSize)
            break;
        size_t len = size_t(std::min<uint64_t>(cs_, dataSize - off));
        if (table[i].dataOffset) {
            a_.file.readExact(table[i].dataOffset, std::span(buf.data(), len), "bitmap data");
        } else if (table[i].allOnes) {
            std::fill(buf.begin(), buf.begin() + std::ptrdiff_t(len), 0xff);
        } else {
            continue; // all zero: already clean
        }
        bm->deserialize(off, std::span<const uint8_t>(buf.data(), len));
    }
    return bm;
}

void Qcow2Bitmaps::syncHeader() {
    a_.writeHeader();
    a_.file.sync();
}

// QEMU's order: while the autoclear bit is clear, a crash leaves every bitmap inconsistent
// rather than half-updated.
void Qcow2Bitmaps::markInUse() {
    a_.header.autoclear &= ~kAutoclearBitmaps;
    syncHeader();
    for (Qcow2BitmapDirEntry& e : onDisk_)
        e.flags |= kQcow2BitmapFlagInUse;
    std::vector<uint8_t> dir = serializeQcow2BitmapDirectory(onDisk_, image_.filename());
    a_.file.write(dirOffset_, dir);
    a_.file.sync();
    a_.header.autoclear |= kAutoclearBitmaps;
    syncHeader();
    inUseOnDisk_ = true;
}

uint64_t Qcow2Bitmaps::writeClusters(std::span<const uint8_t> bytes) {
    uint64_t n = (bytes.size() + cs_ - 1) / cs_;
    uint64_t off = a_.refcounts.allocate(n) * cs_;
    // Past the end of the file the structure is written as it is, so the file ends where it
    // ends, as QEMU leaves it; inside the file the rest of its clusters is zeroed (a reused
    // cluster may hold old data).
    if (off >= a_.file.size()) {
        a_.file.write(off, bytes);
        return off;
    }
    std::vector<uint8_t> padded(size_t(n * cs_), 0);
    std::copy(bytes.begin(), bytes.end(), padded.begin());
    a_.file.write(off, padded);
    return off;
}

// Collects the table and data clusters of a bitmap that is being replaced or removed. A table
// that cannot be read (an inconsistent bitmap may be damaged) is left to `check -r`.
void Qcow2Bitmaps::freeBitmapClusters(const Qcow2BitmapDirEntry& e,
                                      std::vector<uint64_t>& clusters) {
    try {
        std::vector<uint8_t> raw(size_t(e.tableSize) * 8);
        a_.file.readExact(e.tableOffset, raw, "bitmap table");
        for (size_t i = 0; i < e.tableSize; ++i) {
            uint64_t off = getBe64(&raw[i * 8]) & kQcow2BitmapTableOffsetMask;
            if (off && off % cs_ == 0)
                clusters.push_back(off / cs_);
        }
        uint64_t n = (uint64_t(e.tableSize) * 8 + cs_ - 1) / cs_;
        for (uint64_t i = 0; i < n; ++i)
            clusters.push_back(e.tableOffset / cs_ + i);
    } catch (const BlockError&) {
    }
}

void Qcow2Bitmaps::store(const std::vector<NamedBitmap>& bitmaps) {
    const std::string& path = image_.filename();
    const uint64_t diskSize = a_.header.size;
    std::vector<Qcow2BitmapDirEntry> entries;
    std::vector<uint64_t> toFree;
    std::vector<uint8_t> cluster(cs_);
    auto oldEntry = [&](const std::string& name) -> const Qcow2BitmapDirEntry* {
        for (const auto& e : onDisk_)
            if (e.name == name)
                return &e;
        return nullptr;
    };
    // QEMU's directory order: bitmaps already stored keep their place, new ones follow,
    // newest first (as QEMU keeps its bitmaps in memory).
    // A bitmap removed and added again since it was stored counts as new (QEMU takes a removed
    // bitmap out of the directory at once).
    auto stored = [&](const NamedBitmap& b) {
        auto it = storedObjects_.find(b.name);
        return oldEntry(b.name) && it != storedObjects_.end() && it->second == b.bitmap.get();
    };
    std::vector<const NamedBitmap*> order;
    for (const auto& e : onDisk_)
        for (const NamedBitmap& b : bitmaps)
            if (b.name == e.name && stored(b))
                order.push_back(&b);
    for (auto it = bitmaps.rbegin(); it != bitmaps.rend(); ++it)
        if (!stored(*it))
            order.push_back(&*it);
    for (const NamedBitmap* pb : order) {
        const NamedBitmap& b = *pb;
        if (!b.persistent)
            continue;
        const Qcow2BitmapDirEntry* old = oldEntry(b.name);
        if (b.inconsistent || !b.bitmap) {
            if (old)
                entries.push_back(*old); // kept as it is, still in_use
            continue;
        }
        if (b.bitmap->diskSize() != diskSize)
            b.bitmap->resize(diskSize);
        Qcow2BitmapDirEntry e;
        e.name = b.name;
        e.granularityBits = uint8_t(std::countr_zero(b.granularity));
        e.flags = b.enabled ? kQcow2BitmapFlagAuto : 0;
        const uint64_t dataSize = b.bitmap->serializedSize();
        const uint64_t tableSize = qcow2BitmapTableSize(diskSize, e.granularityBits, uint32_t(cs_));
        std::vector<Qcow2BitmapTableEntry> table(static_cast<size_t>(tableSize));
        for (uint64_t i = 0; i < tableSize; ++i) {
            uint64_t off = i * cs_;
            uint64_t len = std::min<uint64_t>(cs_, dataSize - off);
            if (b.bitmap->serializedRangeIsZero(off, len))
                continue; // table entry 0: reads as all zero
            std::fill(cluster.begin(), cluster.end(), 0);
            b.bitmap->serialize(off, std::span(cluster.data(), size_t(len)));
            table[size_t(i)].dataOffset = writeClusters(cluster);
        }
        e.tableSize = uint32_t(tableSize);
        e.tableOffset = writeClusters(serializeQcow2BitmapTable(table));
        validateQcow2BitmapDirEntry(e, geometry(diskSize), path);
        entries.push_back(std::move(e));
    }
    // Everything of the old directory that is not kept as it is goes once the header points
    // to the new one.
    for (const auto& old : onDisk_) {
        bool kept = std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
            return e.name == old.name && e.tableOffset == old.tableOffset;
        });
        if (!kept)
            freeBitmapClusters(old, toFree);
    }
    uint64_t newDirOffset = 0, newDirSize = 0;
    if (!entries.empty()) {
        std::vector<uint8_t> dir = serializeQcow2BitmapDirectory(entries, path);
        newDirOffset = writeClusters(dir);
        newDirSize = dir.size();
    }
    a_.file.sync();
    if (entries.empty()) {
        a_.header.bitmapsExtension.reset();
        a_.header.autoclear &= ~kAutoclearBitmaps;
    } else {
        auto ext = serializeQcow2BitmapsExtension(makeQcow2BitmapsExtension(entries, newDirOffset));
        a_.header.bitmapsExtension.emplace(ext.begin(), ext.end());
        a_.header.autoclear |= kAutoclearBitmaps;
    }
    syncHeader();
    if (dirOffset_) {
        uint64_t n = (dirSize_ + cs_ - 1) / cs_;
        for (uint64_t i = 0; i < n; ++i)
            toFree.push_back(dirOffset_ / cs_ + i);
    }
    onDisk_ = std::move(entries);
    storedObjects_.clear();
    for (const NamedBitmap* b : order)
        if (b->persistent)
            storedObjects_[b->name] = b->bitmap.get();
    dirOffset_ = newDirOffset;
    dirSize_ = newDirSize;
    inUseOnDisk_ = false;
    std::sort(toFree.begin(), toFree.end());
    toFree.erase(std::unique(toFree.begin(), toFree.end()), toFree.end());
    for (uint64_t c : toFree)
        if (a_.refcounts.get(c) > 0)
            a_.refcounts.decrement(c, 1);
}

void Qcow2Bitmaps::save(bool closing) {
    if (!writable_)
        return;
    if (closing && savedForClose_ && !writtenSinceSave_->load() &&
        savedGeneration_ == catalog_->generation())
        return;
    savedForClose_ = false;
    std::vector<NamedBitmap> list = catalog_->list();
    bool persistent =
        std::any_of(list.begin(), list.end(), [](const NamedBitmap& b) { return b.persistent; });
    if (!persistent && onDisk_.empty())
        return;
    a_.withMetadataLock([&] {
        store(list);
        if (!closing && std::any_of(onDisk_.begin(), onDisk_.end(),
                                    [](const Qcow2BitmapDirEntry& e) { return !e.inUse(); }))
            markInUse();
    });
}

void Qcow2Bitmaps::describe(std::vector<BitmapDescription>& out) const {
    for (const NamedBitmap& b : catalog_->list()) {
        if (!b.persistent)
            continue;
        BitmapDescription d;
        d.name = b.name;
        d.granularity = b.granularity;
        // As QEMU lists them: in-use for bitmaps that were not saved correctly (and, while we
        // have the image open read-write, for all of them, as on disk).
        if (b.inconsistent || (writable_ && inUseOnDisk_))
            d.flags.push_back("in-use");
        if (b.enabled)
            d.flags.push_back("auto");
        out.push_back(std::move(d));
    }
}

uint64_t Qcow2Bitmaps::defaultGranularity() const {
    return std::clamp<uint64_t>(cs_, 4096, 65536);
}

void Qcow2Bitmaps::checkCanStore(const std::string& name, uint64_t granularity,
                                 std::span<const NamedBitmap> existing) const {
    const std::string& path = image_.filename();
    if (a_.header.version < 3)
        throwError(ENOTSUP, path, "Cannot store dirty bitmaps in qcow2 v2 files");
    size_t count = 0;
    uint64_t dirBytes = 0;
    for (const NamedBitmap& b : existing)
        if (b.persistent) {
            ++count;
            dirBytes += qcow2BitmapDirEntrySize(b.name.size());
        }
    if (count >= kQcow2MaxBitmaps)
        throwError(ENOSPC, path, "Maximum number of persistent bitmaps is already reached");
    if (dirBytes + qcow2BitmapDirEntrySize(name.size()) > kQcow2MaxBitmapDirectorySize)
        throwError(ENOSPC, path, "Not enough space in the bitmap directory");
    validateNewQcow2Bitmap(name, unsigned(std::countr_zero(granularity)), geometry(a_.header.size),
                           path);
}

} // namespace e2kvm::block::qcow2

#include "Qcow2Check.h"
#include "Qcow2SnapshotTable.h"

#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Refcounts.h"
#include "block/BlockError.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>

namespace e2kvm::block::qcow2 {

namespace {

// Counts references per host cluster, with the role of what refers to each one (so that a
// repair never writes into an "L2 table" that is also something else). Clusters past the end of
// the file (at most one: see Checker::addRef) go into a map.
class ReferenceCounts {
public:
    enum Role : uint8_t { L2Table = 1, Other = 2 };

    ReferenceCounts(uint64_t nbClusters) : counts_(nbClusters, 0), roles_(nbClusters, 0) {}
    void inc(uint64_t c, Role role) {
        if (c < counts_.size()) {
            counts_[c] += counts_[c] != UINT32_MAX;
            roles_[c] = uint8_t(roles_[c] | role);
        } else {
            ++beyond_[c];
        }
    }
    uint64_t get(uint64_t c) const {
        if (c < counts_.size())
            return counts_[c];
        auto it = beyond_.find(c);
        return it == beyond_.end() ? 0 : it->second;
    }
    // Referenced as an L2 table and nothing else.
    bool onlyL2Table(uint64_t c) const { return c < roles_.size() && roles_[c] == L2Table; }
    uint64_t limit() const {
        return beyond_.empty() ? counts_.size() : beyond_.rbegin()->first + 1;
    }
    // Next cluster >= c that may have a reference (to skip the gap past end of file).
    uint64_t next(uint64_t c) const {
        if (c < counts_.size())
            return c;
        auto it = beyond_.lower_bound(c);
        return it == beyond_.end() ? std::max(c, limit()) : it->first;
    }
    // The file grew to `nbClusters` clusters (a repair made room for a refcount block).
    void grow(uint64_t nbClusters) {
        if (nbClusters <= counts_.size())
            return;
        const uint64_t old = counts_.size();
        counts_.resize(nbClusters, 0);
        roles_.resize(nbClusters, 0);
        for (auto it = beyond_.lower_bound(old); it != beyond_.end() && it->first < nbClusters;) {
            counts_[it->first] = uint32_t(std::min<uint64_t>(it->second, UINT32_MAX));
            roles_[it->first] = Other;
            it = beyond_.erase(it);
        }
    }
    void clear() {
        std::fill(counts_.begin(), counts_.end(), 0);
        std::fill(roles_.begin(), roles_.end(), 0);
        beyond_.clear();
    }

private:
    std::vector<uint32_t> counts_; // 4 bytes per host cluster of the file
    std::vector<uint8_t> roles_;
    std::map<uint64_t, uint64_t> beyond_;
};

// The check cannot go on (qemu-img: "Check failed: <strerror(err)>").
struct CheckAborted {
    int err;
};

class Checker {
public:
    Checker(HostFile& f, RepairMode mode) : f_(f), mode_(mode) {}
    CheckResult run();

private:
    void msg(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    void open();
    void loadBitmaps();
    void readSnapshotTable();
    void rewriteSnapshotTable();
    void calculate(bool countRefcountStructures, bool fix);
    void addRef(uint64_t offset, uint64_t bytes,
                ReferenceCounts::Role role = ReferenceCounts::Other);
    void inFile(const char* what, uint64_t offset, uint64_t bytes);
    void checkL1(uint64_t l1Offset, uint32_t l1Size, bool active, bool fix);
    void checkL2(uint64_t l2Offset, bool active, bool fix, bool fixable);
    void checkBitmaps();
    void checkRefblocks();
    void compare(bool fixLeaks, bool fixErrors);
    void checkCopied();
    void checkRefcounts();
    void rebuild();
    std::vector<uint64_t> readTable(uint64_t offset, uint64_t entries);
    void writeEntry(uint64_t offset, uint64_t value);
    Qcow2Refcounts& stored();
    // The stored refcount of a cluster; a refcount block past the end of the file reads as
    // zeros, as in QEMU. Throws BlockError if it cannot be read.
    uint64_t storedRefcount(uint64_t cluster);
    // A corruption met while reading the stored refcounts (an unaligned refcount block), as
    // QEMU's driver signals it during a check: reported once; in a repair (the image is
    // writable) fatal: the image is marked corrupt and the driver detached.
    void signalCorruption(const std::string& what);

    HostFile& f_;
    RepairMode mode_;
    Qcow2Header h_;
    uint64_t cs_ = 0;
    uint32_t cb_ = 0;
    uint64_t fileSize_ = 0;
    uint64_t nbClusters_ = 0;
    uint64_t refMax_ = 0; // largest refcount the image's refcount width can hold
    std::unique_ptr<ReferenceCounts> ref_;
    std::unique_ptr<Qcow2Refcounts> rc_;
    std::vector<uint64_t> reftable_;
    std::vector<Qcow2BitmapDirEntry> bitmaps_;
    uint64_t bitmapDirOffset_ = 0;
    uint64_t bitmapDirSize_ = 0;
    std::vector<Qcow2SnapshotEntry> snapshots_;
    uint64_t snapshotTableBytes_ = 0;
    uint64_t snapshotCorruptions_ = 0; // found while reading the table; a rewrite repairs them
    std::vector<uint64_t> zeroFixes_;  // L2 entries to rewrite as plain zero clusters
    // Extended L2 entries to rewrite as unallocated, with this bitmap.
    std::vector<std::pair<uint64_t, uint64_t>> extZeroFixes_;
    bool rebuild_ = false;
    bool quiet_ = false;
    bool corruptionSignalled_ = false;
    // Marked corrupt by this repair. QEMU's driver is detached then: the refcount updates it
    // still makes stay in its cache and never reach the file (the rebuild writes directly).
    bool detached_ = false;
    uint64_t highest_ = 0;
    std::vector<std::string> messages_;
    CheckResult r_;
};

void Checker::msg(const char* fmt, ...) {
    if (quiet_)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    messages_.emplace_back(buf);
}

// Bytes past the end of the file read as zeros, as QEMU's check reads them.
std::vector<uint64_t> Checker::readTable(uint64_t offset, uint64_t entries) {
    std::vector<uint8_t> raw(size_t(entries * 8));
    f_.read(offset, raw);
    std::vector<uint64_t> t{};
    t.resize(size_t(entries));
    for (size_t i = 0; i < t.size(); ++i)
        t[i] = getBe64(&raw[i * 8]);
    return t;
}

void Checker::writeEntry(uint64_t offset, uint64_t value) {
    uint8_t b[8];
    putBe64(b, value);
    f_.write(offset, b);
}

uint64_t Checker::storedRefcount(uint64_t cluster) {
    const uint64_t block = cluster / stored().entriesPerBlock();
    const auto& table = stored().table();
    const uint64_t blockOffset = block < table.size() ? table[block] & kRefTableOffsetMask : 0;
    if (blockOffset && (blockOffset & (cs_ - 1)) == 0 && blockOffset >= fileSize_)
        return 0;
    return stored().get(cluster);
}

void Checker::signalCorruption(const std::string& what) {
    const bool fatal = mode_ != RepairMode::None;
    if (corruptionSignalled_ && (!fatal || (h_.incompatible & kIncompatCorrupt)))
        return;
    corruptionSignalled_ = true;
    // Printed even by a quiet pass (it is the driver's message, not a finding of the check).
    messages_.push_back(fatal ? "qcow2: Marking image as corrupt: " + what +
                                    "; further corruption events will be suppressed"
                              : "qcow2: Image is corrupt: " + what +
                                    "; further non-fatal corruption events will be suppressed");
    if (!fatal)
        return;
    detached_ = true;
    if (!(h_.incompatible & kIncompatCorrupt)) {
        h_.incompatible |= kIncompatCorrupt;
        writeEntry(72, h_.incompatible);
        f_.sync();
    }
}

Qcow2Refcounts& Checker::stored() {
    if (!rc_) {
        rc_ = std::make_unique<Qcow2Refcounts>(f_, cb_, h_.refcountOrder, reftable_,
                                               h_.refTableOffset, h_.refTableClusters,
                                               [this](uint64_t off, uint32_t n) {
                                                   h_.refTableOffset = off;
                                                   h_.refTableClusters = n;
                                                   uint8_t b[12];
                                                   putBe64(b, off);
                                                   putBe32(b + 8, n);
                                                   f_.write(48, b);
                                               });
        rc_->setCorruptionReport([this](const std::string& what) { signalCorruption(what); });
    }
    return *rc_;
}

// What opening the image validates (the header and its extensions, the persistent bitmaps);
// a failure is an ImageOpenError. Tables past the end of the file are not an open failure here
// but corruptions the check counts (see inFile), as in QEMU.
void Checker::open() {
    try {
        h_ = readHeader(f_, false);
        // As the open: the data file's name must come from somewhere (check takes none).
        if (h_.hasDataFile() && !h_.dataFile)
            throwError(EINVAL, f_.path(), "'data-file' is required for this image");
        cs_ = h_.clusterSize();
        cb_ = h_.clusterBits;
        loadBitmaps();
    } catch (const BlockError& e) {
        std::string what = e.what();
        const std::string prefix = f_.path() + ": ";
        if (what.compare(0, prefix.size(), prefix) == 0)
            what.erase(0, prefix.size());
        throw ImageOpenError(e.errnoValue(), what);
    }
}

// As Qcow2Bitmaps loads them: the extension and the directory must be valid, and so must the
// table of every bitmap that is not in use. An image whose autoclear bit says a program without
// bitmap support wrote it has no bitmaps.
void Checker::loadBitmaps() {
    if (!h_.bitmapsExtension || h_.version < 3 || !(h_.autoclear & kAutoclearBitmaps))
        return;
    Qcow2BitmapImageGeometry g;
    g.clusterSize = uint32_t(cs_);
    g.diskSize = h_.size;
    g.fileSize = 0; // the end of the file is the check's business (inFile)
    Qcow2BitmapsExtension ext = parseQcow2BitmapsExtension(*h_.bitmapsExtension, g, f_.path());
    std::vector<uint8_t> dir(size_t(ext.directorySize));
    f_.read(ext.directoryOffset, dir);
    bitmaps_ = parseQcow2BitmapDirectory(dir, ext, g, f_.path());
    bitmapDirOffset_ = ext.directoryOffset;
    bitmapDirSize_ = ext.directorySize;
    for (const Qcow2BitmapDirEntry& e : bitmaps_) {
        if (e.inUse())
            continue;
        std::vector<uint8_t> raw(size_t(e.tableSize) * 8);
        f_.read(e.tableOffset, raw);
        parseQcow2BitmapTable(raw, g, f_.path(), e.name);
    }
}

// The snapshot table as QEMU's check reads it: its placement, count and size must be sane (else
// the check stops, unless a full repair may drop what is too much), each entry's L1 table is
// checked later, one at a time.
void Checker::readSnapshotTable() {
    const bool fix = mode_ == RepairMode::All;
    uint32_t count = h_.nbSnapshots;
    uint64_t reduced = 0, extraDropped = 0;
    if (count > kMaxSnapshots && fix) {
        msg("Discarding %" PRIu32 " overhanging snapshots", count - kMaxSnapshots);
        reduced += count - kMaxSnapshots;
        count = kMaxSnapshots;
    }
    if (count > kMaxSnapshots) {
        msg("\x01"
            "ERROR snapshot table too large");
        msg("You can force-remove all %" PRIu32 " overhanging snapshots with qemu-img check -r all",
            count - kMaxSnapshots);
        ++r_.checkErrors;
        throw CheckAborted{EFBIG};
    }
    if (count == 0 && reduced == 0)
        return;
    if (h_.snapshotsOffset > uint64_t(INT64_MAX) - uint64_t(count) * kSnapshotHeaderBytes ||
        (h_.snapshotsOffset & (cs_ - 1))) {
        msg("\x01"
            "ERROR snapshot table offset invalid");
        ++r_.checkErrors;
        throw CheckAborted{EINVAL};
    }
    uint64_t pos = h_.snapshotsOffset;
    // As QEMU measures the table: the entries' sizes without their alignment, with extra data
    // that a repair drops already left out.
    uint64_t tableLength = 0;
    for (uint32_t i = 0; i < count; ++i) {
        const uint64_t start = pos = (pos + 7) & ~uint64_t(7);
        uint32_t claimed = 0;
        Qcow2SnapshotEntry s;
        try {
            s = readSnapshotEntry(f_, pos, h_.size, &pos, &claimed);
        } catch (const BlockError&) {
            msg("\x01"
                "ERROR failed to read the snapshot table: Failed to read snapshot table: "
                "Input/output error");
            ++r_.checkErrors;
            throw CheckAborted{EIO};
        }
        if (claimed > kMaxSnapshotExtraBytes) {
            if (!fix) {
                msg("\x01"
                    "ERROR failed to read the snapshot table: Too much extra metadata in "
                    "snapshot table entry %" PRIu32,
                    i);
                msg("You can force-remove this extra metadata with qemu-img check -r all");
                ++r_.checkErrors;
                throw CheckAborted{EFBIG};
            }
            msg("Discarding too much extra metadata in snapshot table entry %" PRIu32 " (%" PRIu32
                " > %" PRIu32 ")",
                i, claimed, kMaxSnapshotExtraBytes);
            ++extraDropped;
        }
        tableLength += kSnapshotHeaderBytes + std::min(claimed, kMaxSnapshotExtraBytes) +
                       s.id.size() + s.name.size();
        if (tableLength > kMaxSnapshotTableBytes || pos - h_.snapshotsOffset > INT32_MAX) {
            if (!fix) {
                msg("\x01"
                    "ERROR failed to read the snapshot table: Snapshot table is too big");
                msg("You can force-remove all %" PRIu32
                    " overhanging snapshots with qemu-img check -r all",
                    count - i);
                ++r_.checkErrors;
                throw CheckAborted{EFBIG};
            }
            msg("Discarding %" PRIu32 " overhanging snapshots (snapshot table is too big)",
                count - i);
            reduced += count - i;
            count = i;
            pos = start;
            break;
        }
        snapshots_.push_back(std::move(s));
    }
    snapshotTableBytes_ = pos - h_.snapshotsOffset;
    snapshotCorruptions_ = extraDropped;
    if (reduced) {
        // The header drops the overhanging entries now (leaking their clusters, which the
        // refcount check then repairs); the table itself is rewritten after that.
        uint8_t b[4];
        putBe32(b, count);
        f_.write(60, b);
        f_.sync();
        h_.nbSnapshots = count;
        r_.corruptionsFixed += reduced;
    }
    // v3 entries carry at least the large VM state size and the disk size.
    for (size_t i = 0; i < snapshots_.size() && h_.version >= 3; ++i)
        if (snapshots_[i].extraDataSize < 16) {
            msg("%s snapshot table entry %zu is incomplete", fix ? "Repairing" : "ERROR", i);
            ++snapshotCorruptions_;
        }
}

// A full repair writes the snapshot table anew (complete extra data, at most 1024 bytes of
// it), after the refcounts are right: new clusters for it, then the header, then the old
// table's clusters are freed.
void Checker::rewriteSnapshotTable() {
    std::vector<uint8_t> bytes = serializeSnapshotTable(snapshots_);
    Qcow2Refcounts& rc = stored();
    uint64_t offset = 0;
    if (!bytes.empty()) {
        offset = rc.allocate((bytes.size() + cs_ - 1) >> cb_) << cb_;
        f_.write(offset, bytes);
    }
    f_.sync();
    uint8_t b[12];
    putBe32(b, uint32_t(snapshots_.size()));
    putBe64(b + 4, offset);
    f_.write(60, b);
    f_.sync();
    if (h_.snapshotsOffset && snapshotTableBytes_) {
        std::vector<uint64_t> freed;
        rc.decrement(h_.snapshotsOffset >> cb_,
                     ((h_.snapshotsOffset + snapshotTableBytes_ - 1) >> cb_) -
                         (h_.snapshotsOffset >> cb_) + 1,
                     &freed);
        for (uint64_t c : freed) // as QEMU discards a freed snapshot table
            f_.punchHole(c << cb_, cs_);
    }
    h_.snapshotsOffset = offset;
    h_.nbSnapshots = uint32_t(snapshots_.size());
    snapshotTableBytes_ = bytes.size();
}

// Counts one reference to every cluster of [offset, offset + bytes). As in QEMU, the last
// cluster may lie partly past the end of the file; a region reaching a whole cluster or more
// past it is a corruption and is not counted, and so is a reference the image's refcount width
// cannot hold.
void Checker::addRef(uint64_t offset, uint64_t bytes, ReferenceCounts::Role role) {
    if (bytes == 0)
        return;
    if (offset > UINT64_MAX - bytes - cs_ || offset + bytes >= fileSize_ + cs_) {
        msg("ERROR: counting reference for region exceeding the end of the file by one cluster "
            "or more: offset 0x%" PRIx64 " size 0x%" PRIx64,
            offset, bytes);
        ++r_.corruptions;
        return;
    }
    uint64_t first = offset >> cb_, last = (offset + bytes - 1) >> cb_;
    for (uint64_t c = first; c <= last; ++c) {
        if (ref_->get(c) >= refMax_) {
            msg("ERROR: overflow cluster offset=0x%" PRIx64, c << cb_);
            msg("Use qemu-img amend to increase the refcount entry width or qemu-img convert "
                "to create a clean copy if the image cannot be opened for writing");
            ++r_.corruptions;
            continue;
        }
        ref_->inc(c, role);
    }
}

// Opening the image wants its tables wholly inside the file. A table reaching a cluster or more
// past the end is a corruption addRef reports; one that ends inside the last cluster's range
// but past the end of the file is reported here.
void Checker::inFile(const char* what, uint64_t offset, uint64_t bytes) {
    if (bytes == 0 || offset > UINT64_MAX - bytes - cs_)
        return;
    if (offset + bytes > fileSize_ && offset + bytes < fileSize_ + cs_) {
        msg("ERROR %s at 0x%" PRIx64 " is past the end of the file", what, offset);
        ++r_.corruptions;
    }
}

// `fixable`: the table is a real L2 table (aligned, referenced as nothing else), so a repair
// may rewrite its entries.
void Checker::checkL2(uint64_t l2Offset, bool active, bool fix, bool fixable) {
    std::vector<uint64_t> t;
    try {
        t = readTable(l2Offset, cs_ / 8);
    } catch (const BlockError&) {
        msg("ERROR: I/O error in check_refcounts_l2");
        ++r_.checkErrors;
        throw CheckAborted{EIO};
    }
    uint64_t nextContiguous = 0;
    const bool external = h_.hasDataFile();
    // With extended L2 entries every entry is followed by its subcluster bitmap.
    const bool ext = h_.extendedL2();
    const size_t step = ext ? 2 : 1;
    for (size_t index = 0; index * step < t.size(); ++index) {
        uint64_t e = t[index * step];
        const uint64_t bitmap = ext ? t[index * step + 1] : 0;
        const ClusterType type = h_.typeOf(e);
        if (type != ClusterType::Compressed && (e & kL2StandardReservedMask)) {
            msg("ERROR found l2 entry with reserved bits set: %" PRIx64, e);
            ++r_.corruptions;
        }
        switch (type) {
        case ClusterType::Compressed: {
            if (e & kOflagCopied) {
                msg("ERROR: coffset=0x%" PRIx64
                    ": copied flag must never be set for compressed clusters",
                    compressedExtent(e, cb_).offset);
                ++r_.corruptions;
                e &= ~kOflagCopied;
            }
            if (external) {
                msg("ERROR compressed cluster %zu with data file, entry=0x%" PRIx64, index, e);
                ++r_.corruptions;
                break;
            }
            if (bitmap) {
                msg("ERROR compressed cluster %zu with non-zero subcluster allocation bitmap, "
                    "entry=0x%" PRIx64,
                    index, e);
                ++r_.corruptions;
                break;
            }
            CompressedExtent x = compressedExtent(e, cb_);
            addRef(x.offset, x.size);
            if (active) {
                ++r_.allocatedClusters;
                ++r_.compressedClusters;
                ++r_.fragmentedClusters;
            }
            break;
        }
        case ClusterType::ZeroAlloc:
        case ClusterType::Normal: {
            uint64_t off = e & kL2OffsetMask;
            if ((bitmap >> 32) & bitmap) {
                ++r_.corruptions;
                msg("ERROR offset=%" PRIx64
                    ": Allocated cluster has corrupted subcluster allocation bitmap",
                    off);
            }
            if (off & (cs_ - 1)) {
                ++r_.corruptions;
                const bool containsData =
                    ext ? (bitmap & kSubclusterAllocMask) != 0 : type != ClusterType::ZeroAlloc;
                if (!containsData) {
                    // A zero cluster loses nothing by losing its preallocation.
                    const bool repair = fix && mode_ == RepairMode::All;
                    msg("%s offset=%" PRIx64
                        ": Preallocated cluster is not properly aligned; L2 entry corrupted.",
                        repair ? "Repairing" : "ERROR", off);
                    if (repair && fixable) {
                        // With subclusters: unallocated, allocated subclusters become zero.
                        if (ext)
                            extZeroFixes_.emplace_back(l2Offset + index * 16,
                                                       (bitmap | bitmap << 32) &
                                                           kSubclusterZeroMask);
                        else
                            zeroFixes_.push_back(l2Offset + index * 8);
                        --r_.corruptions;
                        ++r_.corruptionsFixed;
                        continue; // the cluster is not in use any more
                    }
                } else {
                    msg("ERROR offset=%" PRIx64
                        ": Data cluster is not properly aligned; L2 entry corrupted.",
                        off);
                }
            }
            if (active) {
                ++r_.allocatedClusters;
                if (nextContiguous && off != nextContiguous)
                    ++r_.fragmentedClusters;
                nextContiguous = off + cs_;
            }
            if (!external) // data clusters in an external data file have no refcounts
                addRef(off, cs_);
            break;
        }
        case ClusterType::Unallocated:
            if (bitmap & kSubclusterAllocMask) {
                ++r_.corruptions;
                msg("ERROR: Unallocated cluster has non-zero subcluster allocation map");
            }
            break;
        default:
            break;
        }
    }
}

void Checker::checkL1(uint64_t l1Offset, uint32_t l1Size, bool active, bool fix) {
    if (!l1Size)
        return;
    inFile(active ? "L1 table" : "snapshot L1 table", l1Offset, uint64_t(l1Size) * 8);
    addRef(l1Offset, uint64_t(l1Size) * 8);
    std::vector<uint64_t> l1;
    try {
        l1 = readTable(l1Offset, l1Size);
    } catch (const BlockError&) {
        msg("ERROR: I/O error in check_refcounts_l1");
        ++r_.checkErrors;
        throw CheckAborted{EIO};
    }
    for (uint64_t e : l1) {
        if (!e)
            continue;
        if (e & kL1ReservedMask) {
            msg("ERROR found L1 entry with reserved bits set: %" PRIx64, e);
            ++r_.corruptions;
        }
        uint64_t l2 = e & kL1OffsetMask;
        addRef(l2, cs_, ReferenceCounts::L2Table);
        const bool aligned = !(l2 & (cs_ - 1));
        if (!aligned) {
            msg("ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry corrupted",
                l2);
            ++r_.corruptions;
        }
        // Read where the entry points, as QEMU does, but never repair in a misplaced table.
        checkL2(l2, active, fix, aligned && l2 != 0);
    }
}

void Checker::checkBitmaps() {
    if (bitmaps_.empty())
        return;
    inFile("bitmap directory", bitmapDirOffset_, bitmapDirSize_);
    addRef(bitmapDirOffset_, bitmapDirSize_);
    for (const Qcow2BitmapDirEntry& b : bitmaps_) {
        inFile("bitmap table", b.tableOffset, uint64_t(b.tableSize) * 8);
        addRef(b.tableOffset, uint64_t(b.tableSize) * 8);
        std::vector<uint64_t> table;
        try {
            table = readTable(b.tableOffset, b.tableSize);
        } catch (const BlockError&) {
            msg("ERROR could not read the bitmap table of bitmap '%s'", b.name.c_str());
            ++r_.corruptions;
            throw CheckAborted{EIO};
        }
        for (size_t i = 0; i < table.size(); ++i) {
            const uint64_t e = table[i];
            const uint64_t off = e & kQcow2BitmapTableOffsetMask;
            // Only an in-use bitmap gets here with a bad table (the others were validated on
            // open): QEMU cannot load the table and stops.
            if ((e & kQcow2BitmapTableReservedMask) ||
                (off && ((e & kQcow2BitmapTableAllOnes) || (off & (cs_ - 1))))) {
                msg("ERROR bitmap '%s': bitmap table entry %zu (0x%" PRIx64 ") is invalid",
                    b.name.c_str(), i, e);
                ++r_.corruptions;
                throw CheckAborted{EINVAL};
            }
        }
        for (uint64_t e : table) {
            uint64_t off = e & kQcow2BitmapTableOffsetMask;
            if (!off)
                continue;
            addRef(off, cs_);
        }
    }
}

void Checker::checkRefblocks() {
    for (uint64_t i = 0; i < reftable_.size(); ++i) {
        if (reftable_[i] & kRefTableReservedMask) {
            msg("ERROR refcount table entry %" PRIu64 " has reserved bits set", i);
            ++r_.corruptions;
            rebuild_ = true;
            continue;
        }
        uint64_t off = reftable_[i] & kRefTableOffsetMask;
        if (!off)
            continue;
        if (off & (cs_ - 1)) {
            msg("ERROR refcount block %" PRIu64
                " is not cluster aligned; refcount table entry corrupted",
                i);
            ++r_.corruptions;
            rebuild_ = true;
            continue;
        }
        if ((off >> cb_) >= nbClusters_) {
            // Read as zeros (every cluster it counts has refcount 0). A full repair grows the
            // file to hold it, as QEMU does, and the refcount comparison goes on from there.
            const bool fix = mode_ == RepairMode::All;
            msg("%s refcount block %" PRIu64 " is outside image", fix ? "Repairing" : "ERROR", i);
            ++r_.corruptions;
            if (!fix)
                continue;
            if (off > uint64_t(INT64_MAX) - cs_) {
                msg("ERROR could not resize image: %s", std::strerror(EINVAL));
                rebuild_ = true;
                continue;
            }
            // Far past the end (a corrupt entry, not a lost block): growing the file that much
            // would only make the check itself huge; the rebuild drops the entry instead. Up
            // to kGrowableClusters clusters (a few MiB of counts) the file grows as in QEMU.
            constexpr uint64_t kGrowableClusters = uint64_t(1) << 21;
            if ((off >> cb_) + 1 >
                std::max({2 * nbClusters_, nbClusters_ + 65536, kGrowableClusters})) {
                msg("ERROR could not resize image: %s", std::strerror(EFBIG));
                rebuild_ = true;
                continue;
            }
            try {
                f_.truncate(off + cs_);
            } catch (const BlockError& e) {
                msg("ERROR could not resize image: %s", std::strerror(e.errnoValue()));
                rebuild_ = true;
                continue;
            }
            fileSize_ = f_.size();
            nbClusters_ = (fileSize_ + cs_ - 1) >> cb_;
            ref_->grow(nbClusters_);
            // The block is inside the image now: the corruption counts as repaired.
            --r_.corruptions;
            ++r_.corruptionsFixed;
            addRef(off, cs_);
            continue;
        }
        addRef(off, cs_);
        if (ref_->get(off >> cb_) != 1) {
            msg("ERROR refcount block %" PRIu64 " refcount=%" PRIu64, i, ref_->get(off >> cb_));
            ++r_.corruptions;
            rebuild_ = true;
        }
    }
}

void Checker::calculate(bool countRefcountStructures, bool fix) {
    addRef(0, cs_);
    checkL1(h_.l1Offset, h_.l1Size, true, fix);
    if (h_.hasDataFile() && !snapshots_.empty()) {
        msg("ERROR %zu snapshots in image with data file", snapshots_.size());
        ++r_.corruptions;
    }
    for (const Qcow2SnapshotEntry& s : snapshots_) {
        if (s.l1Offset & (cs_ - 1)) {
            msg("ERROR snapshot %s (%s) l1_offset=%#" PRIx64
                ": L1 table is not cluster aligned; snapshot table entry corrupted",
                s.id.c_str(), s.name.c_str(), s.l1Offset);
            ++r_.corruptions;
            continue;
        }
        if (uint64_t(s.l1Size) * 8 > kMaxL1Bytes) {
            msg("ERROR snapshot %s (%s) l1_size=%#" PRIx32
                ": L1 table is too large; snapshot table entry corrupted",
                s.id.c_str(), s.name.c_str(), s.l1Size);
            ++r_.corruptions;
            continue;
        }
        checkL1(s.l1Offset, s.l1Size, false, fix);
    }
    // Opening reads a snapshot table past the end of the file as zeros (as QEMU): only
    // addRef judges it.
    addRef(h_.snapshotsOffset, snapshotTableBytes_);
    if (countRefcountStructures) {
        inFile("refcount table", h_.refTableOffset, uint64_t(h_.refTableClusters) * cs_);
        addRef(h_.refTableOffset, uint64_t(h_.refTableClusters) * cs_);
    }
    checkBitmaps();
    if (countRefcountStructures)
        checkRefblocks();
}

void Checker::compare(bool fixLeaks, bool fixErrors) {
    highest_ = 0;
    uint64_t limit = std::max(nbClusters_, ref_->limit());
    for (uint64_t i = 0; i < limit; i = ref_->next(i + 1)) {
        uint64_t have;
        try {
            have = storedRefcount(i);
        } catch (const BlockError& e) {
            msg("Can't get refcount for cluster %" PRIu64 ": %s", i, std::strerror(e.errnoValue()));
            ++r_.checkErrors;
            continue;
        }
        uint64_t want = ref_->get(i);
        if (have > 0 || want > 0)
            highest_ = i;
        if (have == want)
            continue;
        uint64_t* fixed = nullptr;
        if (have == 0)
            rebuild_ = true;
        else if (have > want && fixLeaks)
            fixed = &r_.leaksFixed;
        else if (have < want && fixErrors)
            fixed = &r_.corruptionsFixed;
        msg("%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
            fixed         ? "Repairing"
            : have < want ? "ERROR"
                          : "Leaked",
            i, have, want);
        if (fixed) {
            try {
                if (!detached_)
                    stored().set(i, want);
                ++*fixed;
                continue;
            } catch (const BlockError& e) {
                msg("ERROR could not fix refcount of cluster %" PRIu64 ": %s", i, e.what());
            }
        }
        if (have < want)
            ++r_.corruptions;
        else
            ++r_.leaks;
    }
}

void Checker::checkCopied() {
    // -r leaks repairs the flags only when the refcounts it compares with are known good.
    const bool repair =
        mode_ == RepairMode::All ||
        (mode_ == RepairMode::Leaks && !r_.checkErrors && !r_.corruptions && !r_.leaks);
    std::vector<uint64_t> l1;
    try {
        l1 = h_.l1Size ? readTable(h_.l1Offset, h_.l1Size) : std::vector<uint64_t>{};
    } catch (const BlockError&) {
        return;
    }
    for (uint64_t i = 0; i < l1.size(); ++i) {
        uint64_t l2 = l1[i] & kL1OffsetMask;
        if (!l2)
            continue;
        uint64_t rc;
        try {
            rc = storedRefcount(l2 >> cb_);
        } catch (const BlockError&) {
            continue;
        }
        if ((rc == 1) != ((l1[i] & kOflagCopied) != 0)) {
            msg("%s OFLAG_COPIED L2 cluster: l1_index=%" PRIu64 " l1_entry=%" PRIx64
                " refcount=%" PRIu64,
                repair ? "Repairing" : "ERROR", i, l1[i], rc);
            if (repair) {
                l1[i] = rc == 1 ? l1[i] | kOflagCopied : l1[i] & ~kOflagCopied;
                writeEntry(h_.l1Offset + i * 8, l1[i]);
                ++r_.corruptionsFixed;
            } else {
                ++r_.corruptions;
            }
        }
        // Entries are rewritten only in a table that is nothing but an L2 table (QEMU reads
        // and rewrites even a misaligned one).
        const bool writable = repair && !(l2 & (cs_ - 1)) && ref_->onlyL2Table(l2 >> cb_);
        std::vector<uint64_t> t;
        try {
            t = readTable(l2, cs_ / 8);
        } catch (const BlockError&) {
            continue;
        }
        const uint64_t step = h_.l2EntryBytes() / 8;
        for (uint64_t j = 0; j < t.size(); j += step) {
            ClusterType type = h_.typeOf(t[j]);
            if (type != ClusterType::Normal && type != ClusterType::ZeroAlloc)
                continue;
            uint64_t off = t[j] & kL2OffsetMask;
            try {
                // An external data file's clusters are owned by this image alone.
                rc = h_.hasDataFile() ? 1 : storedRefcount(off >> cb_);
            } catch (const BlockError&) {
                continue;
            }
            if ((rc == 1) != ((t[j] & kOflagCopied) != 0)) {
                msg("%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64,
                    writable ? "Repairing" : "ERROR", t[j], rc);
                if (writable) {
                    t[j] = rc == 1 ? t[j] | kOflagCopied : t[j] & ~kOflagCopied;
                    writeEntry(l2 + j * 8, t[j]);
                    ++r_.corruptionsFixed;
                } else {
                    ++r_.corruptions;
                }
            }
        }
    }
}

// Writes a new refcount table and blocks past everything in use, from the references alone.
void Checker::rebuild() {
    // The references, the old refcount structure's included, counted quietly (the caller
    // reports the findings once more after the rebuild, as QEMU does). As in QEMU, the new
    // structure counts the old one, which the leak repair after the rebuild then frees.
    const CheckResult counted = r_;
    // QEMU's overlap check before each write of the new structure still knows the old
    // refcount blocks (unaligned ones too, which no reference counts): a new block or table
    // over one of them is refused, which ends the check.
    const std::vector<uint64_t> oldTable = reftable_;
    auto refuseOverOldBlock = [&](uint64_t offset, uint64_t bytes, const char* what) {
        const uint64_t start = offset & ~(cs_ - 1);
        const uint64_t end = (offset + bytes + cs_ - 1) & ~(cs_ - 1);
        for (uint64_t e : oldTable) {
            const uint64_t old = e & kRefTableOffsetMask;
            if (old && old < end && start < old + cs_) {
                signalCorruption("Preventing invalid write on metadata (overlaps with refcount "
                                 "block)");
                msg("%cERROR writing %s: %s", CheckResult::kProgramNamePrefix, what,
                    std::strerror(EIO));
                throw CheckAborted{EIO};
            }
        }
    };
    quiet_ = true;
    ref_->clear();
    calculate(true, false);
    quiet_ = false;
    r_ = counted;
    // The old table and blocks stay untouched until the header points at the new ones.
    // As QEMU's, the new structure also counts a reference into the cluster just past the end
    // of the file (addRef counts none further out).
    // Laid out as QEMU's rebuild lays it out: each refblock that covers a used cluster in the
    // first free cluster (not before the range it covers), then the table in the first free
    // run; the refblocks covering the table are written again; all of it once more if the
    // table had to grow meanwhile. The old structure stays counted, so nothing overwrites it.
    const uint32_t bits = h_.refcountBits();
    const uint64_t E = cs_ * 8 / bits;
    const uint64_t maxv = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
    std::map<uint64_t, uint64_t> added; // clusters the new structure takes
    auto count = [&](uint64_t c) -> uint64_t {
        auto it = added.find(c);
        return it != added.end() ? it->second : ref_->get(c);
    };
    // Clusters the new structure covers so far (the file's, what it references, and what
    // the structure takes).
    uint64_t end = std::max(nbClusters_, ref_->limit());
    // QEMU's alloc_clusters_imrt: the first run of `n` free clusters from firstFree on
    // (which moves to the first free cluster seen).
    auto allocate = [&](uint64_t n, uint64_t& firstFree) {
        uint64_t c = firstFree, run = 0;
        bool firstGap = true;
        for (; c < end && run < n; ++c) {
            if (!count(c)) {
                ++run;
                if (firstGap) {
                    firstFree = c;
                    firstGap = false;
                }
            } else {
                run = 0;
            }
        }
        const uint64_t at = c - run; // past the end, the run continues
        for (uint64_t i = at; i < at + n; ++i)
            added[i] = 1;
        end = std::max(end, at + n);
        return at;
    };
    std::vector<uint64_t> table;
    auto writeBlocks = [&](uint64_t first, uint64_t last) {
        uint64_t firstFree = 0; // each pass searches from the start again, as QEMU's
        for (uint64_t c = first; c < last; ++c) {
            if (!count(c))
                continue;
            const uint64_t b = c / E, bStart = b * E;
            if (b >= table.size() || !table[b]) {
                firstFree = std::max(firstFree, bStart);
                const uint64_t at = allocate(1, firstFree);
                last = std::max(last, at + 1);
                if (b >= table.size())
                    table.resize(size_t(((b + 1) * 8 + cs_ - 1) / cs_ * cs_ / 8), 0);
                table[b] = at * cs_;
            }
            std::vector<uint8_t> blk(cs_, 0);
            for (uint64_t i = 0; i < E; ++i) {
                const uint64_t v = std::min(count(bStart + i), maxv);
                if (!v)
                    continue;
                switch (bits) {
                case 8:
                    blk[i] = uint8_t(v);
                    break;
                case 16:
                    putBe16(&blk[i * 2], uint16_t(v));
                    break;
                case 32:
                    putBe32(&blk[i * 4], uint32_t(v));
                    break;
                case 64:
                    putBe64(&blk[i * 8], v);
                    break;
                default: {
                    const uint64_t bit = i * bits;
                    blk[bit / 8] = uint8_t(blk[bit / 8] | (v << (bit % 8)));
                }
                }
            }
            refuseOverOldBlock(table[b], cs_, "refblock");
            f_.write(table[b], blk);
            c = bStart + E - 1;
        }
    };
    uint64_t tableCluster = 0, n = 0;
    for (;;) {
        writeBlocks(0, end);
        const size_t entries = table.size();
        n = (entries * 8 + cs_ - 1) / cs_;
        if (n * cs_ > kMaxRefTableBytes)
            throwError(ENOSPC, f_.path(), "rebuilt refcount table would exceed 8 MiB");
        uint64_t firstFree = 0;
        tableCluster = allocate(n, firstFree);
        writeBlocks(tableCluster, tableCluster + n);
        if (table.size() == entries)
            break;
        for (uint64_t i = tableCluster; i < tableCluster + n; ++i)
            added[i] = 0; // the table grew: place it anew
    }
    std::vector<uint8_t> raw(table.size() * 8);
    for (size_t i = 0; i < table.size(); ++i)
        putBe64(&raw[i * 8], table[i]);
    refuseOverOldBlock(tableCluster * cs_, raw.size(), "reftable");
    f_.write(tableCluster * cs_, raw);
    f_.sync();
    h_.refTableOffset = tableCluster * cs_;
    h_.refTableClusters = uint32_t(n);
    uint8_t b[12];
    putBe64(b, h_.refTableOffset);
    putBe32(b + 8, h_.refTableClusters);
    f_.write(48, b);
    f_.sync();
    reftable_ = table;
    rc_.reset();
    fileSize_ = f_.size();
    nbClusters_ = (fileSize_ + cs_ - 1) >> cb_;
}

void Checker::checkRefcounts() {
    calculate(true, mode_ != RepairMode::None);
    for (uint64_t at : zeroFixes_)
        writeEntry(at, kOflagZero);
    for (auto [at, bitmap] : extZeroFixes_) {
        writeEntry(at, 0);
        writeEntry(at + 8, bitmap);
    }
    const CheckResult pre = r_;
    compare(false, false);
    if (rebuild_ && mode_ == RepairMode::All) {
        const CheckResult old = r_;
        msg("Rebuilding refcount structure");
        rebuild();
        r_.corruptions = r_.leaks = 0;
        rebuild_ = false;
        ref_->clear();
        calculate(true, false);
        // The old refcount structure is leaked now: free it. Leaks that remain were made by
        // the rebuild itself.
        const CheckResult saved = r_;
        r_ = CheckResult{};
        compare(true, false);
        if (rebuild_)
            msg("ERROR rebuilt refcount structure is still broken");
        const uint64_t freshLeaks = r_.leaks;
        r_ = saved;
        if (r_.corruptions < old.corruptions)
            r_.corruptionsFixed += old.corruptions - r_.corruptions;
        if (r_.leaks < old.leaks)
            r_.leaksFixed += old.leaks - r_.leaks;
        r_.leaks += freshLeaks;
    } else if (mode_ != RepairMode::None) {
        if (rebuild_) {
            // Like QEMU: only a full repair may rebuild; leak repair gives up, changing nothing.
            msg("ERROR need to rebuild refcount structures");
            ++r_.checkErrors;
            throw CheckAborted{EIO};
        }
        if (r_.checkErrors) {
            // Refcounts that cannot be read cannot be repaired one by one either.
            msg("ERROR cannot repair leaks: refcounts could not be read");
            throw CheckAborted{EIO};
        }
        if (r_.leaks || r_.corruptions) {
            r_ = pre;
            compare(true, mode_ == RepairMode::All);
        }
    }
    checkCopied();
    r_.imageEndOffset = (highest_ + 1) * cs_;
}

CheckResult Checker::run() {
    open();
    fileSize_ = f_.size();
    nbClusters_ = (fileSize_ + cs_ - 1) >> cb_;
    if (nbClusters_ > INT32_MAX)
        throwError(EFBIG, f_.path(),
                   "image file too large to check (" + std::to_string(nbClusters_) + " clusters)");
    refMax_ = h_.refcountBits() >= 32 ? UINT32_MAX : (1ull << h_.refcountBits()) - 1;
    r_.totalClusters = (h_.size + cs_ - 1) >> cb_;
    try {
        readSnapshotTable();
        if (h_.refTableClusters)
            reftable_ = readTable(h_.refTableOffset, uint64_t(h_.refTableClusters) * cs_ / 8);
        ref_ = std::make_unique<ReferenceCounts>(nbClusters_);
        checkRefcounts();
        if (snapshotCorruptions_) {
            if (mode_ == RepairMode::All) {
                rewriteSnapshotTable();
                r_.corruptionsFixed += snapshotCorruptions_;
            } else {
                r_.corruptions += snapshotCorruptions_;
            }
        }
    } catch (const CheckAborted& a) {
        r_.abortErrno = a.err;
        r_.messages = std::move(messages_);
        return r_;
    }
    if (mode_ != RepairMode::None && r_.corruptions == 0 && r_.checkErrors == 0 &&
        (h_.incompatible & (kIncompatDirty | kIncompatCorrupt))) {
        uint8_t b[8];
        putBe64(b, h_.incompatible & ~(kIncompatDirty | kIncompatCorrupt));
        f_.write(72, b);
    }
    // A repair opens the image for writing, and that clears the autoclear bits of features
    // QEMU does not know (and so does not keep consistent).
    const uint64_t knownAutoclear = kAutoclearBitmaps | kAutoclearDataFileRaw;
    if (mode_ != RepairMode::None && h_.version >= 3 && (h_.autoclear & ~knownAutoclear)) {
        uint8_t b[8];
        putBe64(b, h_.autoclear & knownAutoclear);
        f_.write(88, b);
    }
    if (mode_ != RepairMode::None)
        f_.sync();
    r_.detached = detached_;
    r_.messages = std::move(messages_);
    return r_;
}

} // namespace

CheckResult checkQcow2(HostFile& file, RepairMode repair) {
    return Checker(file, repair).run();
}

} // namespace e2kvm::block::qcow2

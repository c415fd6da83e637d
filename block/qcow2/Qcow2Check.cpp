#include "Qcow2Check.h"

#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Refcounts.h"
#include "block/BlockError.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>

namespace e2kvm::block::qcow2 {

namespace {

// Counts references per host cluster; clusters past the end of the file go into a map so a
// hostile offset cannot make us allocate a huge array.
class ReferenceCounts {
public:
    ReferenceCounts(uint64_t nbClusters, uint32_t clusterBits)
        : counts_(nbClusters, 0), cb_(clusterBits) {}
    void add(uint64_t offset, uint64_t bytes) {
        if (bytes == 0)
            return;
        uint64_t first = offset >> cb_, last = (offset + bytes - 1) >> cb_;
        for (uint64_t c = first; c <= last; ++c) {
            if (c < counts_.size())
                counts_[c] += counts_[c] != UINT32_MAX;
            else
                ++beyond_[c];
        }
    }
    uint64_t get(uint64_t c) const {
        if (c < counts_.size())
            return counts_[c];
        auto it = beyond_.find(c);
        return it == beyond_.end() ? 0 : it->second;
    }
    uint64_t limit() const {
        return beyond_.empty() ? counts_.size() : beyond_.rbegin()->first + 1;
    }
    // Next cluster >= c that may have a reference (to skip the gap past end of file).
    uint64_t next(uint64_t c) const {
        if (c < counts_.size())
            return c;
        auto it = beyond_.lower_bound(c);
        return it == beyond_.end() ? limit() : it->first;
    }
    void clear() {
        std::fill(counts_.begin(), counts_.end(), 0);
        beyond_.clear();
    }

private:
    std::vector<uint32_t> counts_; // 4 bytes per host cluster of the file
    std::map<uint64_t, uint64_t> beyond_;
    uint32_t cb_;
};

class Checker {
public:
    Checker(HostFile& f, RepairMode mode) : f_(f), mode_(mode) {}
    CheckResult run();

private:
    void msg(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
    void calculate(bool countRefcountStructures);
    void checkL1(uint64_t l1Offset, uint32_t l1Size, bool active);
    void checkL2(uint64_t l2Offset, bool active);
    void checkBitmaps();
    void checkRefblocks();
    void compare(bool fix);
    void checkCopied(bool fix);
    void rebuild();
    std::vector<uint64_t> readTable(uint64_t offset, uint64_t entries);
    void writeEntry(uint64_t offset, uint64_t value);
    Qcow2Refcounts& stored();

    HostFile& f_;
    RepairMode mode_;
    Qcow2Header h_;
    uint64_t cs_ = 0;
    uint32_t cb_ = 0;
    uint64_t nbClusters_ = 0;
    std::unique_ptr<ReferenceCounts> ref_;
    std::unique_ptr<Qcow2Refcounts> rc_;
    std::vector<uint64_t> reftable_;
    bool rebuild_ = false;
    uint64_t highest_ = 0;
    bool anyCluster_ = false;
    CheckResult r_;
};

void Checker::msg(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r_.messages.emplace_back(buf);
}

std::vector<uint64_t> Checker::readTable(uint64_t offset, uint64_t entries) {
    std::vector<uint8_t> raw(size_t(entries * 8));
    f_.readExact(offset, raw, "table");
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

Qcow2Refcounts& Checker::stored() {
    if (!rc_)
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
    return *rc_;
}

void Checker::checkL2(uint64_t l2Offset, bool active) {
    std::vector<uint64_t> t;
    try {
        t = readTable(l2Offset, cs_ / 8);
    } catch (const BlockError&) {
        msg("ERROR: I/O error in check_refcounts_l2");
        ++r_.checkErrors;
        return;
    }
    uint64_t nextContiguous = 0;
    const bool external = h_.hasDataFile();
    for (size_t index = 0; index < t.size(); ++index) {
        uint64_t e = t[index];
        switch (h_.typeOf(e)) {
        case ClusterType::Compressed: {
            if (external) {
                msg("ERROR compressed cluster %zu with data file, entry=0x%" PRIx64, index, e);
                ++r_.corruptions;
                break;
            }
            if (e & kOflagCopied) {
                msg("ERROR: coffset=0x%" PRIx64
                    ": copied flag must never be set for compressed clusters",
                    compressedExtent(e, cb_).offset);
                ++r_.corruptions;
                e &= ~kOflagCopied;
            }
            CompressedExtent x = compressedExtent(e, cb_);
            ref_->add(x.offset, x.size);
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
            if (active) {
                ++r_.allocatedClusters;
                if (nextContiguous && off != nextContiguous)
                    ++r_.fragmentedClusters;
                nextContiguous = off + cs_;
            }
            if (off & (cs_ - 1)) {
                if (h_.typeOf(e) == ClusterType::ZeroAlloc)
                    msg("ERROR offset=%" PRIx64
                        ": Preallocated cluster is not properly aligned; L2 entry corrupted.",
                        off);
                else
                    msg("ERROR offset=%" PRIx64
                        ": Data cluster is not properly aligned; L2 entry corrupted.",
                        off);
                ++r_.corruptions;
            }
            if (!external) // data clusters in an external data file have no refcounts
                ref_->add(off, cs_);
            break;
        }
        default:
            break;
        }
    }
}

void Checker::checkL1(uint64_t l1Offset, uint32_t l1Size, bool active) {
    ref_->add(l1Offset, uint64_t(l1Size) * 8);
    if (!l1Size)
        return;
    std::vector<uint64_t> l1;
    try {
        l1 = readTable(l1Offset, l1Size);
    } catch (const BlockError&) {
        msg("ERROR: I/O error in check_refcounts_l1");
        ++r_.checkErrors;
        return;
    }
    for (uint64_t e : l1) {
        uint64_t l2 = e & kL1OffsetMask;
        if (!l2)
            continue;
        ref_->add(l2, cs_);
        if (l2 & (cs_ - 1)) {
            msg("ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry corrupted",
                l2);
            ++r_.corruptions;
            continue;
        }
        checkL2(l2, active);
    }
}

void Checker::checkBitmaps() {
    if (!(h_.autoclear & kAutoclearBitmaps) || !h_.bitmapsExtension)
        return;
    const uint8_t* e = h_.bitmapsExtension->data();
    uint32_t nb = getBe32(e);
    uint64_t dirSize = getBe64(e + 8), dirOffset = getBe64(e + 16);
    if (dirSize > 1024ull * 65535 || nb > 65535 || (dirOffset & (cs_ - 1))) {
        msg("ERROR bitmap directory at 0x%" PRIx64 " is invalid", dirOffset);
        ++r_.corruptions;
        return;
    }
    ref_->add(dirOffset, dirSize);
    std::vector<uint8_t> dir{};
    dir.resize(size_t(dirSize));
    try {
        f_.readExact(dirOffset, dir, "bitmap directory");
    } catch (const BlockError&) {
        msg("ERROR bitmap directory at 0x%" PRIx64 " is past end of file", dirOffset);
        ++r_.checkErrors;
        return;
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < nb; ++i) {
        if (pos + 24 > dir.size()) {
            msg("ERROR bitmap directory entry %u is truncated", i);
            ++r_.corruptions;
            return;
        }
        uint64_t tableOffset = getBe64(&dir[pos]);
        uint32_t tableSize = getBe32(&dir[pos + 8]);
        uint16_t nameSize = getBe16(&dir[pos + 18]);
        uint32_t extra = getBe32(&dir[pos + 20]);
        pos += (24 + size_t(extra) + nameSize + 7) & ~size_t(7);
        if ((tableOffset & (cs_ - 1)) || tableSize > 0x8000000) {
            msg("ERROR bitmap table of bitmap %u is invalid", i);
            ++r_.corruptions;
            continue;
        }
        ref_->add(tableOffset, uint64_t(tableSize) * 8);
        std::vector<uint64_t> table;
        try {
            table = readTable(tableOffset, tableSize);
        } catch (const BlockError&) {
            msg("ERROR bitmap table of bitmap %u is past end of file", i);
            ++r_.checkErrors;
            continue;
        }
        for (uint64_t te : table) {
            uint64_t off = te & 0x00fffffffffffe00ull;
            if (off)
                ref_->add(off, cs_);
        }
    }
}

void Checker::checkRefblocks() {
    for (uint64_t i = 0; i < reftable_.size(); ++i) {
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
            msg("ERROR refcount block %" PRIu64 " is outside image", i);
            ++r_.corruptions;
            rebuild_ = true;
            continue;
        }
        ref_->add(off, cs_);
        if (ref_->get(off >> cb_) != 1) {
            msg("ERROR refcount block %" PRIu64 " refcount=%" PRIu64, i, ref_->get(off >> cb_));
            ++r_.corruptions;
            rebuild_ = true;
        }
    }
}

void Checker::calculate(bool countRefcountStructures) {
    ref_->add(0, cs_);
    checkL1(h_.l1Offset, h_.l1Size, true);
    uint64_t snapBytes = 0;
    std::vector<SnapshotInfo> snaps;
    try {
        snaps = readSnapshots(f_, h_, &snapBytes);
    } catch (const BlockError& e) {
        msg("ERROR snapshot table: %s", e.what());
        ++r_.corruptions;
    }
    for (const auto& s : snaps)
        checkL1(s.l1Offset, s.l1Size, false);
    ref_->add(h_.snapshotsOffset, snapBytes);
    if (countRefcountStructures)
        ref_->add(h_.refTableOffset, uint64_t(h_.refTableClusters) * cs_);
    checkBitmaps();
    if (countRefcountStructures)
        checkRefblocks();
}

void Checker::compare(bool fix) {
    uint64_t limit = std::max(nbClusters_, ref_->limit());
    for (uint64_t i = 0; i < limit; i = ref_->next(i + 1)) {
        uint64_t have;
        try {
            have = stored().get(i);
        } catch (const BlockError& e) {
            msg("Can't get refcount for cluster %" PRIu64 ": %s", i, std::strerror(e.errnoValue()));
            ++r_.checkErrors;
            continue;
        }
        uint64_t want = ref_->get(i);
        if (have > 0 || want > 0) {
            highest_ = i;
            anyCluster_ = true;
        }
        if (have == want)
            continue;
        uint64_t* fixed = nullptr;
        if (have == 0)
            rebuild_ = true;
        else if (have > want && fix && mode_ != RepairMode::None)
            fixed = &r_.leaksFixed;
        else if (have < want && fix && mode_ == RepairMode::All)
            fixed = &r_.corruptionsFixed;
        msg("%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
            fixed         ? "Repairing"
            : have < want ? "ERROR"
                          : "Leaked",
            i, have, want);
        if (fixed) {
            try {
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

void Checker::checkCopied(bool fix) {
    std::vector<uint64_t> l1;
    try {
        l1 = h_.l1Size ? readTable(h_.l1Offset, h_.l1Size) : std::vector<uint64_t>{};
    } catch (const BlockError&) {
        return;
    }
    for (uint64_t i = 0; i < l1.size(); ++i) {
        uint64_t l2 = l1[i] & kL1OffsetMask;
        if (!l2 || (l2 & (cs_ - 1)))
            continue;
        uint64_t rc;
        try {
            rc = stored().get(l2 >> cb_);
        } catch (const BlockError&) {
            continue;
        }
        if ((rc == 1) != ((l1[i] & kOflagCopied) != 0)) {
            bool repair = fix && mode_ == RepairMode::All;
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
        std::vector<uint64_t> t;
        try {
            t = readTable(l2, cs_ / 8);
        } catch (const BlockError&) {
            continue;
        }
        for (uint64_t j = 0; j < t.size(); ++j) {
            ClusterType type = h_.typeOf(t[j]);
            if (type != ClusterType::Normal && type != ClusterType::ZeroAlloc)
                continue;
            uint64_t off = t[j] & kL2OffsetMask;
            if (off & (cs_ - 1))
                continue;
            try {
                // An external data file's clusters are owned by this image alone.
                rc = h_.hasDataFile() ? 1 : stored().get(off >> cb_);
            } catch (const BlockError&) {
                continue;
            }
            if ((rc == 1) != ((t[j] & kOflagCopied) != 0)) {
                bool repair = fix && mode_ == RepairMode::All;
                msg("%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64,
                    repair ? "Repairing" : "ERROR", t[j], rc);
                if (repair) {
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
    msg("Rebuilding refcount structure");
    ref_->clear();
    calculate(false);
    const uint32_t bits = h_.refcountBits();
    const uint64_t E = cs_ * 8 / bits;
    // New blocks for every covered block index, then the new table, past everything in use.
    // The old table and blocks stay untouched until the header points at the new ones.
    // New structures can only describe clusters that exist: a reference past the end of the
    // file is a corruption no rebuild can fix (and must not size the allocations below).
    if (ref_->limit() > nbClusters_)
        throwError(EINVAL, f_.path(),
                   "cannot rebuild the refcount structure: cluster " +
                       std::to_string(ref_->limit() - 1) +
                       " is referenced but lies past the end of the file");
    const uint64_t used = nbClusters_;
    std::vector<bool> oldStructure(size_t(used), false);
    auto markOld = [&](uint64_t first, uint64_t count) {
        for (uint64_t c = first; c < first + count && c < used; ++c)
            oldStructure[size_t(c)] = true;
    };
    markOld(h_.refTableOffset >> cb_, h_.refTableClusters);
    for (uint64_t e : reftable_)
        if ((e & kRefTableOffsetMask) && !(e & kRefTableOffsetMask & (cs_ - 1)))
            markOld(e >> cb_, 1);
    auto isFree = [&](uint64_t c) { return ref_->get(c) == 0 && !oldStructure[size_t(c)]; };
    // The first run of free clusters long enough for every new block plus the new table.
    auto findRun = [&](uint64_t len) {
        uint64_t runStart = 0;
        for (uint64_t c = 0; c < used; ++c) {
            if (!isFree(c))
                runStart = c + 1;
            else if (c + 1 - runStart == len)
                return runStart;
        }
        return runStart; // the free tail run continues past `used`
    };
    uint64_t totalBlocks = 1, n = 1, start = 0;
    for (int it = 0; it < 64; ++it) {
        start = findRun(totalBlocks + n);
        uint64_t end = std::max(used, start + totalBlocks + n);
        uint64_t need = (end + E - 1) / E;
        uint64_t n2 = (need * 8 + cs_ - 1) / cs_;
        if (need <= totalBlocks && n2 <= n)
            break;
        totalBlocks = std::max(totalBlocks, need);
        n = std::max(n, n2);
    }
    if (n * cs_ > kMaxRefTableBytes)
        throwError(ENOSPC, f_.path(), "rebuilt refcount table would exceed 8 MiB");
    uint64_t tableCluster = start + totalBlocks;
    auto want = [&](uint64_t c) -> uint64_t {
        if (c >= start && c < tableCluster + n)
            return 1;
        return ref_->get(c);
    };
    std::vector<uint64_t> table(n * cs_ / 8, 0);
    for (uint64_t b = 0; b < totalBlocks; ++b) {
        std::vector<uint8_t> blk(cs_, 0);
        bool any = false;
        for (uint64_t i = 0; i < E; ++i) {
            uint64_t v = want(b * E + i);
            if (!v)
                continue;
            any = true;
            uint64_t maxv = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
            v = std::min(v, maxv);
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
                uint64_t bit = i * bits;
                blk[bit / 8] = uint8_t(blk[bit / 8] | (v << (bit % 8)));
            }
            }
        }
        (void)any;
        f_.write((start + b) * cs_, blk);
        table[b] = (start + b) * cs_;
    }
    std::vector<uint8_t> raw(table.size() * 8);
    for (size_t i = 0; i < table.size(); ++i)
        putBe64(&raw[i * 8], table[i]);
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
    nbClusters_ = (f_.size() + cs_ - 1) >> cb_;
}

CheckResult Checker::run() {
    h_ = readHeader(f_);
    cs_ = h_.clusterSize();
    cb_ = h_.clusterBits;
    nbClusters_ = (f_.size() + cs_ - 1) >> cb_;
    if (nbClusters_ > INT32_MAX)
        throwError(EFBIG, f_.path(),
                   "image file too large to check (" + std::to_string(nbClusters_) + " clusters)");
    r_.totalClusters = (h_.size + cs_ - 1) >> cb_;
    if (h_.refTableClusters)
        reftable_ = readTable(h_.refTableOffset, uint64_t(h_.refTableClusters) * cs_ / 8);
    ref_ = std::make_unique<ReferenceCounts>(nbClusters_, cb_);
    calculate(true);
    CheckResult pre = r_;
    compare(false);
    if (rebuild_ && mode_ == RepairMode::All) {
        CheckResult before = r_;
        rebuild();
        r_ = pre;
        r_.messages = before.messages;
        r_.messages.push_back("Rebuilding refcount structure");
        r_.messages.erase(r_.messages.end() - 2); // rebuild() already logged it once
        ref_->clear();
        r_.allocatedClusters = r_.fragmentedClusters = r_.compressedClusters = 0;
        calculate(true);
        CheckResult stats = r_;
        compare(true); // the old structures are leaked now: free them
        r_.corruptionsFixed = before.corruptions;
        r_.leaksFixed = before.leaks + r_.leaksFixed;
        r_.corruptions = r_.leaks = 0;
        (void)stats;
    } else if (mode_ != RepairMode::None) {
        if (rebuild_) {
            // Like QEMU: only a full repair may rebuild; leak repair gives up here.
            msg("ERROR need to rebuild refcount structures");
            ++r_.checkErrors;
            r_.imageEndOffset = anyCluster_ ? (highest_ + 1) * cs_ : 0;
            return r_;
        }
        if (r_.leaks || r_.corruptions) {
            std::vector<std::string> messages = r_.messages;
            r_ = pre;
            r_.messages = messages;
            compare(true);
        }
    }
    checkCopied(mode_ != RepairMode::None);
    r_.imageEndOffset = anyCluster_ ? (highest_ + 1) * cs_ : 0;
    if (mode_ != RepairMode::None && r_.corruptions == 0 && r_.checkErrors == 0 &&
        (h_.incompatible & (kIncompatDirty | kIncompatCorrupt))) {
        uint8_t b[8];
        putBe64(b, h_.incompatible & ~(kIncompatDirty | kIncompatCorrupt));
        f_.write(72, b);
    }
    if (mode_ != RepairMode::None)
        f_.sync();
    return r_;
}

} // namespace

CheckResult checkQcow2(HostFile& file, RepairMode repair) {
    return Checker(file, repair).run();
}

} // namespace e2kvm::block::qcow2

// Internal snapshots of Qcow2Driver: create, apply, delete and list, in the order that keeps
// the image consistent after a crash at any point (at worst leaked clusters):
// - create: the copy of the L1 table and the refcount increments are durable before the
//   COPIED flags are cleared and before the snapshot table that points at the copy;
// - apply: the snapshot's clusters gain a reference before the active L1 table is overwritten
//   with its copy (synced), and the old active clusters lose theirs only after that;
// - delete: the table without the snapshot is durable before its clusters lose a reference.
#include "Qcow2Bitmaps.h"
#include "Qcow2Driver.h"
#include "block/BlockLog.h"
#include "block/bitmap/BitmapCatalog.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace e2kvm::block::qcow2 {

namespace {

std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

InternalSnapshot describeEntry(const Qcow2SnapshotEntry& e) {
    InternalSnapshot s;
    s.id = e.id;
    s.name = e.name;
    s.vmStateSize = e.vmStateSize;
    s.dateSec = e.dateSec;
    s.dateNsec = e.dateNsec;
    s.vmClockNsec = e.vmClockNsec;
    if (e.icount != ~0ull)
        s.icount = e.icount;
    s.diskSize = e.diskSize;
    return s;
}

} // namespace

std::vector<InternalSnapshot> Qcow2Driver::listSnapshots() const {
    std::lock_guard lock(meta_);
    std::vector<InternalSnapshot> out;
    for (const Qcow2SnapshotEntry& e : snapshots_)
        out.push_back(describeEntry(e));
    return out;
}

std::vector<uint64_t> Qcow2Driver::readL1Table(uint64_t offset, uint32_t entries, uint64_t padTo) {
    std::vector<uint8_t> raw(size_t(entries) * 8);
    if (!raw.empty())
        file_.readExact(offset, raw, "snapshot L1 table");
    std::vector<uint64_t> l1(std::max<uint64_t>(entries, padTo), 0);
    for (size_t i = 0; i < entries; ++i)
        l1[i] = getBe64(&raw[i * 8]);
    return l1;
}

bool Qcow2Driver::updateSnapshotRefcounts(std::vector<uint64_t>& l1, int addend) {
    struct Pending {
        uint64_t offset;
        Table table;
        uint64_t first, last;
    };
    std::vector<Pending> l2Writes;
    std::vector<uint64_t> freed;
    auto adjust = [&](uint64_t first, uint64_t count) {
        // As QEMU's refcount update: a cluster referenced but without a refcount block (only
        // in a corrupt image) gets its block created, and then the update gives up (EAGAIN).
        for (uint64_t c = first; addend > 0 && c < first + count;
             c = (c / rc_->entriesPerBlock() + 1) * rc_->entriesPerBlock())
            if (!rc_->hasBlock(c)) {
                rc_->ensureBlockFor(c);
                throwError(EAGAIN, filename(),
                           "cluster " + hex(c << cb_) + " is referenced but has no refcount");
            }
        if (addend > 0)
            rc_->increment(first, count);
        else if (addend < 0)
            rc_->decrement(first, count, &freed);
    };
    bool l1Changed = false;
    for (size_t i = 0; i < l1.size(); ++i) {
        const uint64_t l2Offset = l1[i] & kL1OffsetMask;
        if (!l2Offset)
            continue;
        if (l2Offset & (cs_ - 1))
            throwError(EIO, filename(),
                       "L2 table offset " + hex(l2Offset) + " unaligned (L1 index " + hex(i) + ")");
        Table t = loadL2(l2Offset, i);
        Pending p{l2Offset, t, l2Entries_, 0};
        for (uint64_t j = 0; j < l2Entries_; ++j) {
            const uint64_t old = (*t)[j];
            uint64_t entry = old & ~kOflagCopied;
            uint64_t refcount = 0;
            switch (h_.typeOf(entry)) {
            case ClusterType::Compressed: {
                CompressedExtent x = compressedExtent(entry, cb_);
                uint64_t first = x.offset >> cb_;
                adjust(first, ((x.offset + x.size - 1) >> cb_) - first + 1);
                refcount = 2; // compressed clusters are never written in place
                break;
            }
            case ClusterType::Normal:
            case ClusterType::ZeroAlloc: {
                uint64_t host = entry & kL2OffsetMask;
                if (host & (cs_ - 1))
                    throwError(EIO, filename(),
                               "cluster offset " + hex(host) + " unaligned (L2 table " +
                                   hex(l2Offset) + ", index " + hex(j) + ")");
                adjust(host >> cb_, 1);
                refcount = rc_->get(host >> cb_);
                break;
            }
            default:
                break;
            }
            if (refcount == 1)
                entry |= kOflagCopied;
            if (entry != old) {
                (*t)[j] = entry;
                p.first = std::min(p.first, j);
                p.last = j;
            }
        }
        size_t freedBefore = freed.size();
        adjust(l2Offset >> cb_, 1);
        bool tableFreed = freed.size() > freedBefore;
        if (tableFreed)
            l2Cache_.erase(l2Offset);
        else if (p.first <= p.last)
            l2Writes.push_back(p);
        uint64_t e = l2Offset | (rc_->get(l2Offset >> cb_) == 1 ? kOflagCopied : 0);
        if (e != l1[i]) {
            l1[i] = e;
            l1Changed = true;
        }
    }
    // The new flags describe the new refcounts: those go first.
    file_.sync();
    for (const Pending& p : l2Writes)
        writeL2Span(p.offset, *p.table, p.first, p.last);
    if (!freed.empty())
        punchFreed(freed);
    return l1Changed;
}

void Qcow2Driver::writeSnapshotTable() {
    std::vector<uint8_t> bytes = serializeSnapshotTable(snapshots_);
    uint64_t offset = 0;
    if (!bytes.empty()) {
        offset = rc_->allocate((bytes.size() + cs_ - 1) >> cb_) << cb_;
        file_.write(offset, bytes);
    }
    file_.sync(); // the table and its refcounts before the header points at it
    const uint64_t oldOffset = h_.snapshotsOffset, oldBytes = snapshotTableBytes_;
    h_.nbSnapshots = uint32_t(snapshots_.size());
    h_.snapshotsOffset = offset;
    writeHeaderFields(60, 72);
    file_.sync();
    snapshotTableBytes_ = bytes.size();
    if (oldOffset && oldBytes)
        freeClustersOrLeak(oldOffset, oldBytes);
}

void Qcow2Driver::freeClustersOrLeak(uint64_t offset, uint64_t bytes) {
    try {
        std::vector<uint64_t> freed;
        rc_->decrement(offset >> cb_, ((offset + bytes - 1) >> cb_) - (offset >> cb_) + 1, &freed);
        punchFreed(freed);
    } catch (const BlockError& e) {
        logMessage(LogLevel::Leak, filename(),
                   std::string("qcow2_free_clusters failed: ") + std::strerror(e.errnoValue()));
    }
}

InternalSnapshot Qcow2Driver::createSnapshot(const InternalSnapshot& want) {
    if (readOnly())
        throwError(EACCES, filename(), "the image is open read-only");
    if (external_)
        throwError(ENOTSUP, filename(),
                   "internal snapshots are not supported with an external data file");
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    if (snapshots_.size() >= kMaxSnapshots)
        throwError(EFBIG, filename(), "too many snapshots");
    barrier();

    unsigned long maxId = 0;
    for (const Qcow2SnapshotEntry& s : snapshots_)
        maxId = std::max(maxId, std::strtoul(s.id.c_str(), nullptr, 10));
    Qcow2SnapshotEntry sn;
    sn.id = std::to_string(maxId + 1);
    sn.name = want.name;
    sn.dateSec = want.dateSec;
    sn.dateNsec = want.dateNsec;
    sn.vmClockNsec = want.vmClockNsec;
    sn.vmStateSize = want.vmStateSize;
    sn.icount = want.icount.value_or(~0ull);
    sn.diskSize = size_;
    sn.extraDataSize = kSnapshotKnownExtraBytes;
    sn.l1Size = uint32_t(l1_.size());

    // The copy keeps the L1 entries as they are now (COPIED flags included, as QEMU's does).
    const uint64_t l1Clusters = (uint64_t(sn.l1Size) * 8 + cs_ - 1) >> cb_;
    sn.l1Offset = l1Clusters ? rc_->allocate(l1Clusters) << cb_ : 0;
    writeL1Table(sn.l1Offset, l1_);
    if (updateSnapshotRefcounts(l1_, +1)) {
        writeL1Table(h_.l1Offset, l1_);
        file_.sync();
    }
    snapshots_.push_back(sn);
    try {
        writeSnapshotTable();
    } catch (...) {
        snapshots_.pop_back();
        throw;
    }
    // As QEMU: the saved VM state belongs to the snapshot now; the active disk lets it go (it
    // would only be copied again by the next snapshot). A failure here only leaks.
    if (sn.vmStateSize) {
        try {
            discardClusters(vmStateOffset() >> cb_, (sn.vmStateSize + cs_ - 1) >> cb_);
        } catch (const BlockError&) {
        }
    }
    return describeEntry(sn);
}

void Qcow2Driver::applySnapshot(const std::string& idOrName) {
    if (readOnly())
        throwError(EACCES, filename(), "the image is open read-only");
    if (external_)
        throw BlockError(ENOTSUP, "Failed to load snapshot: Operation not supported");
    if (bitmaps_ && !bitmaps_->catalog().list().empty())
        throw BlockError(EBUSY, "Device has active dirty bitmaps");
    Qcow2SnapshotEntry sn;
    {
        std::lock_guard lock(meta_);
        auto it = std::find_if(snapshots_.begin(), snapshots_.end(),
                               [&](const Qcow2SnapshotEntry& s) { return s.id == idOrName; });
        if (it == snapshots_.end())
            it = std::find_if(snapshots_.begin(), snapshots_.end(),
                              [&](const Qcow2SnapshotEntry& s) { return s.name == idOrName; });
        if (it == snapshots_.end())
            throw BlockError(ENOENT, "Failed to load snapshot: No such file or directory");
        sn = *it;
        try {
            validateSnapshotL1(sn, cs_);
        } catch (const BlockError& e) {
            throw BlockError(e.errnoValue(),
                             reportedFirst(e.what(), std::string("Failed to load snapshot: ") +
                                                         std::strerror(e.errnoValue())));
        }
    }
    if (sn.diskSize != size())
        truncate(sn.diskSize);

    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    barrier();
    if (sn.l1Size > l1_.size())
        replaceL1(sn.l1Size);
    // The snapshot's table as it is on disk becomes the active one (padded with zeros).
    std::vector<uint64_t> next = readL1Table(sn.l1Offset, sn.l1Size, l1_.size());
    std::vector<uint64_t> snapshotL1(next.begin(), next.begin() + sn.l1Size);
    if (updateSnapshotRefcounts(snapshotL1, +1)) {
        writeL1Table(sn.l1Offset, snapshotL1);
        file_.sync();
    }
    writeL1Table(h_.l1Offset, next);
    file_.sync();
    std::vector<uint64_t> old = std::move(l1_);
    l1_ = next;
    updateSnapshotRefcounts(old, -1);
    if (updateSnapshotRefcounts(l1_, 0)) {
        writeL1Table(h_.l1Offset, l1_);
        file_.sync();
    }
}

void Qcow2Driver::loadSnapshotReadOnly(const std::optional<std::string>& id,
                                       const std::optional<std::string>& name) {
    if (!readOnly())
        throw BlockError(EINVAL, "Device is not readonly");
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    auto it = std::find_if(snapshots_.begin(), snapshots_.end(), [&](const Qcow2SnapshotEntry& s) {
        return (id || name) && (!id || s.id == *id) && (!name || s.name == *name);
    });
    if (it == snapshots_.end())
        throw BlockError(ENOENT, "Can't find snapshot");
    validateSnapshotL1(*it, cs_);
    barrier();
    // Only this process's view changes: the active L1 table is replaced in memory by the
    // snapshot's, at the snapshot's L1 size. The disk keeps its current size (as QEMU's):
    // what lies past the snapshot's table reads as unallocated.
    l1_ = readL1Table(it->l1Offset, it->l1Size, it->l1Size);
}

void Qcow2Driver::deleteSnapshot(const std::optional<std::string>& id,
                                 const std::optional<std::string>& name) {
    if (readOnly())
        throwError(EACCES, filename(), "the image is open read-only");
    if (external_)
        throw BlockError(ENOTSUP, "Operation not supported");
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    auto it = std::find_if(snapshots_.begin(), snapshots_.end(), [&](const Qcow2SnapshotEntry& s) {
        return (id || name) && (!id || s.id == *id) && (!name || s.name == *name);
    });
    if (it == snapshots_.end())
        throw BlockError(ENOENT, "Can't find the snapshot");
    validateSnapshotL1(*it, cs_);
    barrier();
    const Qcow2SnapshotEntry sn = *it;
    const size_t index = size_t(it - snapshots_.begin());
    snapshots_.erase(it);
    try {
        writeSnapshotTable();
    } catch (...) {
        snapshots_.insert(snapshots_.begin() + std::ptrdiff_t(index), sn);
        throw;
    }
    // From here a failure only leaks clusters.
    try {
        std::vector<uint64_t> l1 = readL1Table(sn.l1Offset, sn.l1Size, 0);
        updateSnapshotRefcounts(l1, -1);
    } catch (const BlockError& e) {
        throw BlockError(e.errnoValue(), std::string("Failed to free the cluster and L1 table: ") +
                                             std::strerror(e.errnoValue()));
    }
    if (sn.l1Size)
        freeClustersOrLeak(sn.l1Offset, uint64_t(sn.l1Size) * 8);
    if (updateSnapshotRefcounts(l1_, 0)) {
        writeL1Table(h_.l1Offset, l1_);
        file_.sync();
    }
}

} // namespace e2kvm::block::qcow2

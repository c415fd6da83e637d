// Qcow2Driver with extended L2 entries (incompatible bit 4): each cluster has 32 subclusters,
// each allocated (its data is in the host cluster), reading as zero, or neither (reading
// from the backing file). Reads, writes, zero writes, discards and block status work per
// subcluster and make the allocation choices QEMU 7.2 makes: a write allocates the cluster
// but marks only the subclusters it touches, copy-on-write fills only the partial subclusters
// at its edges, zero writes set the zero bits of whole subclusters.
#include "Qcow2Driver.h"
#include "Qcow2Format.h"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace e2kvm::block::qcow2 {

namespace {

const std::vector<uint8_t>& zeros() {
    static const std::vector<uint8_t> z(1 << 20, 0);
    return z;
}

} // namespace

Qcow2Driver::SubType Qcow2Driver::subType(uint64_t entry, uint64_t bitmap, unsigned sc) const {
    switch (h_.typeOf(entry)) {
    case ClusterType::Compressed:
        return SubType::Compressed;
    case ClusterType::Unallocated:
        if (bitmap & kSubclusterAllocMask)
            return SubType::Invalid;
        return (bitmap >> (32 + sc)) & 1 ? SubType::ZeroPlain : SubType::UnallocPlain;
    default:
        if ((bitmap >> 32) & bitmap)
            return SubType::Invalid;
        if ((bitmap >> (32 + sc)) & 1)
            return SubType::ZeroAlloc;
        return (bitmap >> sc) & 1 ? SubType::Normal : SubType::UnallocAlloc;
    }
}

uint64_t Qcow2Driver::l2Bitmap(uint64_t cluster) {
    uint64_t l1i = cluster / l2Entries_;
    if (l1i >= l1_.size())
        return 0;
    uint64_t off = l1_[l1i] & kL1OffsetMask;
    if (!off)
        return 0;
    return (*loadL2(off, l1i))[l2Entries_ + cluster % l2Entries_];
}

void Qcow2Driver::invalidEntry(uint64_t cluster, bool forWrite) {
    char what[128];
    // QEMU words the read side with two spaces.
    std::snprintf(what, sizeof what,
                  "Invalid cluster entry found %s(L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                  forWrite ? "" : " ", l1_[cluster / l2Entries_] & kL1OffsetMask,
                  cluster % l2Entries_);
    signalCorruption(true, what);
}

Qcow2Driver::SubRun Qcow2Driver::subRun(uint64_t offset, uint64_t maxBytes) {
    const uint64_t scSize = uint64_t(1) << scBits_;
    uint64_t c = offset >> cb_;
    const uint64_t in = offset & (cs_ - 1);
    unsigned sc = unsigned(in >> scBits_);
    SubRun r;
    r.entry = l2Entry(c);
    uint64_t bitmap = l2Bitmap(c);
    r.type = subType(r.entry, bitmap, sc);
    if (r.type == SubType::Invalid)
        invalidEntry(c, false);
    const bool host = r.type == SubType::Normal || r.type == SubType::ZeroAlloc ||
                      r.type == SubType::UnallocAlloc;
    if (host) {
        checkEntryOffset(r.entry & kL2OffsetMask, c, ClusterType::Normal, false);
        r.hostOffset = (r.entry & kL2OffsetMask) + in;
    }
    if (r.type == SubType::Compressed) {
        r.bytes = std::min(cs_ - in, maxBytes);
        return r;
    }
    // Subclusters of the same type after it, in this cluster and the following ones of the
    // same L2 table (whose host clusters follow on, for types with one).
    uint64_t end = (c << cb_) + (uint64_t(sc) + 1) * scSize;
    uint64_t expectHost = (r.entry & kL2OffsetMask) + cs_;
    uint64_t e = r.entry;
    while (end - offset < maxBytes) {
        if (++sc == kSubclustersPerCluster) {
            if ((c + 1) % l2Entries_ == 0)
                break;
            ++c;
            e = l2Entry(c);
            bitmap = l2Bitmap(c);
            if (host && (e & kL2OffsetMask) != expectHost)
                break;
            expectHost += cs_;
            sc = 0;
        }
        if (subType(e, bitmap, sc) != r.type)
            break;
        end += scSize;
    }
    r.bytes = std::min(end - offset, maxBytes);
    return r;
}

// ---- read and block status ----

void Qcow2Driver::extRead(uint64_t offset, std::span<uint8_t> buf) {
    std::vector<uint8_t> cluster;
    size_t done = 0;
    while (done < buf.size()) {
        const uint64_t pos = offset + done;
        SubRun r;
        {
            std::lock_guard lock(meta_);
            r = subRun(pos, buf.size() - done);
            if (r.type == SubType::Normal && !external_)
                checkInsideFile(r.hostOffset, r.bytes);
        }
        auto out = buf.subspan(done, size_t(r.bytes));
        switch (r.type) {
        case SubType::UnallocPlain:
        case SubType::UnallocAlloc:
            readBacking(pos, out);
            break;
        case SubType::ZeroPlain:
        case SubType::ZeroAlloc:
            std::memset(out.data(), 0, out.size());
            break;
        case SubType::Normal:
            file_.debugEvent(BlkdebugEvent::ReadAio);
            data().read(r.hostOffset, out);
            break;
        case SubType::Compressed:
            cluster.resize(cs_);
            readCompressed(r.entry, cluster);
            std::memcpy(out.data(), cluster.data() + (pos & (cs_ - 1)), out.size());
            break;
        case SubType::Invalid: // subRun reported it
            throwError(EIO, filename(), "invalid L2 entry");
        }
        done += size_t(r.bytes);
    }
}

LayerExtent Qcow2Driver::extLayerStatus(uint64_t offset, uint64_t maxLength) {
    SubRun r;
    bool askDataFile = false;
    {
        std::lock_guard lock(meta_);
        r = subRun(offset, maxLength);
        askDataFile = r.type == SubType::Normal && looksMetadataPreallocated();
    }
    LayerExtent e;
    e.length = r.bytes;
    switch (r.type) {
    case SubType::UnallocPlain:
    case SubType::Invalid:
        e.kind = Allocation::Unallocated;
        break;
    case SubType::UnallocAlloc:
        // As QEMU: not allocated here, but with a valid host offset.
        e.kind = Allocation::Unallocated;
        e.hostOffset = r.hostOffset;
        break;
    case SubType::ZeroPlain:
        e.kind = Allocation::Zero;
        break;
    case SubType::ZeroAlloc:
        e.kind = Allocation::Zero;
        e.hostOffset = r.hostOffset;
        break;
    case SubType::Normal:
        e.kind = Allocation::Data;
        e.hostOffset = r.hostOffset;
        if (askDataFile) {
            HostFile::Run run = data().dataRun(r.hostOffset, r.hostOffset + e.length);
            e.dataReadsAsZero = !run.data;
            e.length = run.end - r.hostOffset;
        }
        break;
    case SubType::Compressed:
        e.kind = Allocation::Data;
        e.compressed = true;
        e.hostOffset = compressedExtent(r.entry, cb_).offset;
        break;
    }
    return e;
}

// ---- write ----

void Qcow2Driver::extWrite(uint64_t offset, std::span<const uint8_t> buf) {
    size_t done = 0;
    uint64_t chain = 0; // host offset right after the previous piece
    while (done < buf.size()) {
        const uint64_t pos = offset + done;
        const uint64_t c = pos >> cb_;
        const uint64_t maxClusters = ((pos & (cs_ - 1)) + (buf.size() - done) + cs_ - 1) >> cb_;
        std::unique_lock lock(meta_);
        waitForInflight(lock, c, maxClusters);
        done += size_t(extWritePiece(lock, pos, buf.subspan(done), &chain));
    }
}

uint64_t Qcow2Driver::extWritePiece(std::unique_lock<std::mutex>& lock, uint64_t pos,
                                    std::span<const uint8_t> data, uint64_t* chain) {
    const uint64_t scSize = uint64_t(1) << scBits_;
    const uint64_t c = pos >> cb_, in = pos & (cs_ - 1);
    const uint64_t l1i = c / l2Entries_, i0 = c % l2Entries_;
    const uint64_t want = std::min((in + data.size() + cs_ - 1) >> cb_, l2Entries_ - i0);
    // As QEMU, the L2 table is made ours first (allocated, or copied from a snapshot's).
    uint64_t tableOffset = 0;
    Table t = writableL2(l1i, &tableOffset);
    auto needsNew = [&](uint64_t e) {
        return h_.typeOf(e) != ClusterType::Normal || !(e & kOflagCopied);
    };
    const uint64_t e0 = (*t)[i0];
    const bool keep = !needsNew(e0);
    uint64_t n = 1;
    uint64_t host = 0;
    if (keep) {
        host = e0 & kL2OffsetMask;
        if (host & (cs_ - 1)) {
            char what[128];
            std::snprintf(what, sizeof what,
                          "Data cluster offset %#" PRIx64 " unaligned (guest offset: %#" PRIx64 ")",
                          host, pos);
            signalCorruption(true, what);
        }
        if (external_ && host != (c << cb_))
            checkEntryOffset(host, c, ClusterType::Normal, true);
        while (n < want && !needsNew((*t)[i0 + n]) &&
               ((*t)[i0 + n] & kL2OffsetMask) == host + (n << cb_))
            ++n;
    } else {
        while (n < want && needsNew((*t)[i0 + n]))
            ++n;
    }
    for (uint64_t i = 0; i < n; ++i)
        if (subType((*t)[i0 + i], (*t)[l2Entries_ + i0 + i], 0) == SubType::Invalid)
            invalidEntry(c + i, true);
    uint64_t bytes = std::min<uint64_t>(data.size(), (n << cb_) - in);

    // The range to write, relative to cluster c: the data, and the parts of its first and
    // last subcluster that must be copied (QEMU's calculate_l2_meta).
    uint64_t cowFrom = in, cowTo = in + bytes;
    bool linkNeeded = !keep;
    auto typeAt = [&](uint64_t rel) {
        const uint64_t i = i0 + (rel >> cb_);
        return subType((*t)[i], (*t)[l2Entries_ + i], unsigned((rel & (cs_ - 1)) >> scBits_));
    };
    if (keep) {
        for (uint64_t rel = in & ~(scSize - 1); rel < in + bytes && !linkNeeded; rel += scSize)
            linkNeeded = typeAt(rel) != SubType::Normal;
        if (linkNeeded) {
            if (typeAt(in) != SubType::Normal)
                cowFrom = in & ~(scSize - 1);
            if (typeAt(in + bytes - 1) != SubType::Normal)
                cowTo = (in + bytes + scSize - 1) & ~(scSize - 1);
        }
    } else {
        const unsigned firstSc = unsigned(in >> scBits_);
        const uint32_t firstAlloc = uint32_t((*t)[l2Entries_ + i0] & kSubclusterAllocMask);
        switch (typeAt(in)) {
        case SubType::Compressed:
            cowFrom = 0;
            break;
        case SubType::Normal:
        case SubType::ZeroAlloc:
        case SubType::UnallocAlloc:
            cowFrom = uint64_t(std::min<unsigned>(firstSc, unsigned(std::countr_zero(firstAlloc))))
                      << scBits_;
            break;
        default:
            cowFrom = uint64_t(firstSc) << scBits_;
            break;
        }
        const uint64_t lastRel = in + bytes - 1;
        const uint64_t lastIndex = i0 + (lastRel >> cb_);
        const unsigned lastSc = unsigned((lastRel & (cs_ - 1)) >> scBits_);
        const uint32_t lastAlloc = uint32_t((*t)[l2Entries_ + lastIndex] & kSubclusterAllocMask);
        const uint64_t clusterEnd = (in + bytes + cs_ - 1) & ~(cs_ - 1);
        switch (typeAt(lastRel)) {
        case SubType::Compressed:
            cowTo = clusterEnd;
            break;
        case SubType::Normal:
        case SubType::ZeroAlloc:
        case SubType::UnallocAlloc:
            cowTo =
                clusterEnd - (uint64_t(std::min<unsigned>(kSubclustersPerCluster - lastSc - 1,
                                                          unsigned(std::countl_zero(lastAlloc))))
                              << scBits_);
            break;
        default:
            cowTo = (in + bytes + scSize - 1) & ~(scSize - 1);
            break;
        }
    }

    if (!keep) {
        // Clusters freed since the last barrier become free first, so that this allocation
        // reuses them first-fit as QEMU's would.
        if (!releases_.empty() && !external_)
            barrier();
        if (external_) {
            host = c << cb_;
        } else if (uint64_t k = *chain ? rc_->allocateAt(*chain >> cb_, n) : 0) {
            host = *chain;
            if (k < n) {
                n = k;
                bytes = std::min<uint64_t>(bytes, (n << cb_) - in);
                if (cowTo > (n << cb_))
                    cowTo = n << cb_;
            }
        } else {
            host = rc_->allocate(n) << cb_;
        }
        try {
            if (!external_)
                checkNoMetadataOverlap(host, n << cb_);
        } catch (...) {
            if (!external_)
                rc_->decrement(host >> cb_, n);
            throw;
        }
    } else if (!external_) {
        checkNoMetadataOverlap(host + cowFrom, cowTo - cowFrom);
        if (!file_.isNode()) // a node answers a write past its end itself (see writeInPlace)
            checkInsideFile(host + cowFrom, cowTo - cowFrom);
    }
    // A piece cut short by allocateAt may end inside what was the copy-on-write tail: then
    // it ends with the data.
    if (cowTo < in + bytes)
        cowTo = in + bytes;
    t.reset();
    inflight_.emplace_back(c, c + n);
    auto finish = [&] {
        std::erase(inflight_, std::pair<uint64_t, uint64_t>(c, c + n));
        inflightDone_.notify_all();
    };
    lock.unlock();
    try {
        const uint64_t base = c << cb_;
        std::vector<uint8_t> whole;
        std::span<const uint8_t> out = data.first(size_t(bytes));
        if (cowFrom < in || cowTo > in + bytes) {
            whole.resize(size_t(cowTo - cowFrom));
            if (cowFrom < in) {
                file_.debugEvent(BlkdebugEvent::CowRead);
                extRead(base + cowFrom, std::span(whole.data(), size_t(in - cowFrom)));
            }
            std::memcpy(whole.data() + (in - cowFrom), data.data(), size_t(bytes));
            if (cowTo > in + bytes) {
                file_.debugEvent(BlkdebugEvent::CowRead);
                extRead(base + in + bytes, std::span(whole.data() + (in + bytes - cowFrom),
                                                     size_t(cowTo - in - bytes)));
            }
            out = whole;
        }
        file_.debugEvent(BlkdebugEvent::WriteAio);
        this->data().write(host + cowFrom, out);
    } catch (...) {
        lock.lock();
        if (!keep && !external_)
            rc_->decrement(host >> cb_, n); // nothing references them yet
        finish();
        throw;
    }
    lock.lock();
    if (linkNeeded) {
        t = writableL2(l1i, &tableOffset); // the cache may have dropped our copy meanwhile
        std::vector<uint64_t> old;
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t from = std::max(cowFrom, i << cb_), to = std::min(cowTo, (i + 1) << cb_);
            if (!keep && (*t)[i0 + i])
                old.push_back((*t)[i0 + i]);
            (*t)[i0 + i] = (host + (i << cb_)) | kOflagCopied;
            if (from < to) {
                const unsigned fs = unsigned((from - (i << cb_)) >> scBits_);
                const unsigned ls = unsigned((to - 1 - (i << cb_)) >> scBits_) + 1;
                uint64_t& b = (*t)[l2Entries_ + i0 + i];
                b = (b | subclusterAllocRange(fs, ls)) & ~subclusterZeroRange(fs, ls);
            }
        }
        markL2Dirty(tableOffset, t, i0, i0 + n - 1);
        for (uint64_t e : old)
            deferRelease(e, false);
    }
    finish();
    *chain = host + ((cowTo + cs_ - 1) & ~(cs_ - 1));
    return bytes;
}

void Qcow2Driver::populateSubclusters(uint64_t offset, std::span<const uint8_t> bytes) {
    std::shared_lock gate(gate_);
    uint64_t chain = 0;
    size_t done = 0;
    while (done < bytes.size()) {
        const uint64_t pos = offset + done;
        const uint64_t c = pos >> cb_;
        std::unique_lock lock(meta_);
        waitForInflight(lock, c, 1);
        // Decided and written under one hold of the lock: a guest write to these subclusters
        // waits for this one, or came first and then they are not unallocated any more.
        const SubRun r = subRun(pos, bytes.size() - done);
        if (r.type == SubType::UnallocPlain || r.type == SubType::UnallocAlloc)
            done += size_t(extWritePiece(lock, pos, bytes.subspan(done, size_t(r.bytes)), &chain));
        else
            done += size_t(r.bytes);
    }
}

// ---- zero writes and discards ----

void Qcow2Driver::extWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    // As QEMU's block layer with the subcluster as zero-write alignment: an unaligned head,
    // the aligned middle, an unaligned tail; each the driver cannot zero becomes written zeros.
    const uint64_t scSize = uint64_t(1) << scBits_;
    uint64_t head = offset % scSize;
    const uint64_t tail = (offset + length) % scSize;
    const bool unmap = (zeroFlags & ZeroMayUnmap) != 0;
    while (length > 0) {
        uint64_t num = length;
        if (head) {
            num = std::min(length, scSize - head);
            head = (head + num) % scSize;
        } else if (tail && num > scSize) {
            num -= tail;
        }
        bool zeroed;
        {
            // Exclusive: no write can allocate the cluster between the check and the change.
            std::unique_lock gate(gate_);
            std::lock_guard lock(meta_);
            zeroed = extTryZero(offset, num, unmap);
        }
        if (!zeroed) {
            if (zeroFlags & ZeroNoFallback)
                throwError(ENOTSUP, filename(),
                           "write zeroes: partial subcluster needs explicit zeros");
            std::shared_lock gate(gate_);
            for (uint64_t p = offset; p < offset + num;) {
                const uint64_t k = std::min<uint64_t>(offset + num - p, zeros().size());
                extWrite(p, std::span(zeros().data(), size_t(k)));
                p += k;
            }
        }
        offset += num;
        length -= num;
    }
    if (zeroFlags & ZeroFua)
        doFlush();
}

bool Qcow2Driver::extTryZero(uint64_t offset, uint64_t bytes, bool unmap) {
    const uint64_t scSize = uint64_t(1) << scBits_;
    const uint64_t head = offset % scSize;
    uint64_t tail = ((offset + bytes + scSize - 1) & ~(scSize - 1)) - (offset + bytes);
    if (offset + bytes == size())
        tail = 0;
    if (head || tail) {
        // The rest of the subcluster must read as zero already, and the subcluster must not
        // hold data here.
        const uint64_t start = offset - head;
        const uint64_t c = start >> cb_;
        const SubType type =
            subType(l2Entry(c), l2Bitmap(c), unsigned((start & (cs_ - 1)) >> scBits_));
        if (type == SubType::Invalid)
            invalidEntry(c, false);
        const uint64_t end = std::min(offset + bytes + tail, size());
        const bool zero = type == SubType::ZeroPlain || type == SubType::ZeroAlloc ||
                          ((type == SubType::UnallocPlain || type == SubType::UnallocAlloc) &&
                           backingReadsAsZero(start, offset) &&
                           (offset + bytes >= end || backingReadsAsZero(offset + bytes, end)));
        if (!zero)
            return false;
        offset = start;
        bytes = scSize;
    }
    return zeroizeSubclusters(offset, bytes, unmap);
}

bool Qcow2Driver::zeroizeSubclusters(uint64_t offset, uint64_t bytes, bool unmap) {
    const uint64_t scSize = uint64_t(1) << scBits_;
    uint64_t end = offset + bytes;
    const uint64_t head = std::min(end, (offset + cs_ - 1) & ~(cs_ - 1)) - offset;
    offset += head;
    const uint64_t tail = end >= size() ? 0 : end - std::max(offset, end & ~(cs_ - 1));
    end -= tail;
    if (head) {
        const uint64_t at = offset - head;
        if (!zeroSubclustersOf(at >> cb_, unsigned((at & (cs_ - 1)) >> scBits_),
                               unsigned((head + scSize - 1) >> scBits_)))
            return false;
    }
    if (end > offset)
        zeroClustersExt(offset >> cb_, (end - offset + cs_ - 1) >> cb_, unmap);
    if (tail && !zeroSubclustersOf(end >> cb_, 0, unsigned((tail + scSize - 1) >> scBits_)))
        return false;
    return true;
}

bool Qcow2Driver::zeroSubclustersOf(uint64_t cluster, unsigned first, unsigned count) {
    uint64_t tableOffset = 0;
    Table t = writableL2(cluster / l2Entries_, &tableOffset);
    const uint64_t i = cluster % l2Entries_;
    if (h_.typeOf((*t)[i]) == ClusterType::Compressed)
        return false; // a compressed cluster cannot be zeroed in part
    uint64_t& b = (*t)[l2Entries_ + i];
    const uint64_t nb = (b | subclusterZeroRange(first, first + count)) &
                        ~subclusterAllocRange(first, first + count);
    if (nb != b) {
        b = nb;
        markL2Dirty(tableOffset, t, i, i);
    }
    return true;
}

void Qcow2Driver::zeroClustersExt(uint64_t first, uint64_t count, bool unmap) {
    for (uint64_t c = first; c < first + count;) {
        const uint64_t i0 = c % l2Entries_;
        const uint64_t n = std::min(l2Entries_ - i0, first + count - c);
        uint64_t tableOffset = 0;
        Table t = writableL2(c / l2Entries_, &tableOffset);
        std::vector<uint64_t> release;
        uint64_t firstChanged = i0 + n, lastChanged = i0;
        for (uint64_t i = i0; i < i0 + n; ++i) {
            const uint64_t e = (*t)[i];
            const ClusterType type = h_.typeOf(e);
            // As QEMU: compressed clusters always go, data clusters with unmap.
            const bool drop =
                type == ClusterType::Compressed || (unmap && type == ClusterType::Normal);
            const uint64_t ne = drop ? 0 : e;
            if (ne == e && (*t)[l2Entries_ + i] == kSubclusterZeroMask)
                continue;
            (*t)[i] = ne;
            (*t)[l2Entries_ + i] = kSubclusterZeroMask;
            if (drop)
                release.push_back(e);
            firstChanged = std::min(firstChanged, i);
            lastChanged = std::max(lastChanged, i);
        }
        if (firstChanged <= lastChanged)
            markL2Dirty(tableOffset, t, firstChanged, lastChanged);
        for (uint64_t e : release)
            deferRelease(e, true);
        if (external_)
            syncDataZeroes(c, n, release, unmap);
        c += n;
    }
}

void Qcow2Driver::discardClustersExt(uint64_t first, uint64_t count, bool full) {
    for (uint64_t c = first; c < first + count;) {
        const uint64_t i0 = c % l2Entries_;
        const uint64_t n = std::min(l2Entries_ - i0, first + count - c);
        // Like QEMU, the L2 table is made writable even when no entry changes.
        uint64_t tableOffset = 0;
        Table t = writableL2(c / l2Entries_, &tableOffset);
        std::vector<uint64_t> release;
        bool changed = false;
        for (uint64_t i = i0; i < i0 + n; ++i) {
            const uint64_t e = (*t)[i], b = (*t)[l2Entries_ + i];
            uint64_t ne = e, nb = b;
            // A full discard lets the backing file show through; else the clusters read as
            // zero (nothing to do for unallocated ones without a backing file).
            if (full) {
                ne = nb = 0;
            } else if (backing_ || h_.typeOf(e) != ClusterType::Unallocated) {
                ne = 0;
                nb = kSubclusterZeroMask;
            }
            if (ne == e && nb == b)
                continue;
            release.push_back(e);
            (*t)[i] = ne;
            (*t)[l2Entries_ + i] = nb;
            changed = true;
        }
        if (changed)
            markL2Dirty(tableOffset, t, i0, i0 + n - 1);
        for (uint64_t e : release)
            deferRelease(e, true);
        if (external_ && !externalRaw_)
            syncDataZeroes(c, n, release, true);
        c += n;
    }
    if (externalRaw_)
        syncDataZeroes(first, count, {}, true);
}

} // namespace e2kvm::block::qcow2

#include "Qcow2Refcounts.h"

#include "Qcow2Format.h"
#include "block/BlockError.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <optional>

namespace e2kvm::block::qcow2 {

namespace {
std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}
} // namespace

Qcow2Refcounts::Qcow2Refcounts(HostFile& file, uint32_t clusterBits, uint32_t refcountOrder,
                               std::vector<uint64_t> table, uint64_t tableOffset,
                               uint32_t tableClusters,
                               std::function<void(uint64_t, uint32_t)> onTableMoved)
    : file_(file), clusterBits_(clusterBits), clusterSize_(1ull << clusterBits),
      refcountBits_(1u << refcountOrder),
      maxRefcount_(refcountOrder == 6 ? UINT64_MAX : (1ull << (1u << refcountOrder)) - 1),
      entriesPerBlock_((1ull << clusterBits) * 8 / (1u << refcountOrder)), table_(std::move(table)),
      tableOffset_(tableOffset), tableClusters_(tableClusters),
      onTableMoved_(std::move(onTableMoved)),
      cacheLimit_(std::max<size_t>(8, size_t((8u << 20) >> clusterBits))) {
    for (uint64_t e : table_)
        if (e & kRefTableOffsetMask)
            blockOffsets_.insert(e & kRefTableOffsetMask);
}

void Qcow2Refcounts::dropCache() {
    writeDeferred();
    cache_.clear();
}

void Qcow2Refcounts::setDeferred(bool deferred, std::function<void()> onFirstDeferral) {
    if (!deferred)
        writeDeferred();
    deferred_ = deferred;
    onFirstDeferral_ = std::move(onFirstDeferral);
}

void Qcow2Refcounts::writeDeferred() {
    while (!pending_.empty()) {
        auto it = pending_.begin();
        const auto [first, last] = it->second;
        const uint64_t offset = it->first;
        Block b = cache_.at(offset);
        const uint64_t from = first * refcountBits_ / 8;
        const uint64_t to = ((last + 1) * refcountBits_ + 7) / 8;
        if (writeCheck_)
            writeCheck_(offset + from, to - from);
        file_.debugEvent(BlkdebugEvent::RefblockUpdatePart);
        writeBlockPart(offset, from, std::span(b->data() + from, size_t(to - from)));
        pending_.erase(it);
    }
}

bool Qcow2Refcounts::overlapsBlock(uint64_t offset, uint64_t length) const {
    if (length == 0)
        return false;
    // The last block that starts before the end of the range.
    auto it = blockOffsets_.lower_bound(offset + length);
    if (it == blockOffsets_.begin())
        return false;
    --it;
    return *it + clusterSize_ > offset;
}

Qcow2Refcounts::Block Qcow2Refcounts::loadBlock(uint64_t offset) {
    auto it = cache_.find(offset);
    if (it != cache_.end())
        return it->second;
    if (offset & (clusterSize_ - 1)) {
        if (corruptionReport_) {
            // QEMU names the first table entry pointing there.
            uint64_t index = 0;
            while (index < table_.size() && (table_[index] & kRefTableOffsetMask) != offset)
                ++index;
            char what[96];
            std::snprintf(what, sizeof what,
                          "Refblock offset %#" PRIx64 " unaligned (reftable index: %#" PRIx64 ")",
                          offset, index);
            corruptionReport_(what);
        }
        throwError(EIO, file_.path(),
                   "refcount block at " + hex(offset) + " is not cluster aligned");
    }
    auto b = std::make_shared<std::vector<uint8_t>>(clusterSize_);
    file_.read(offset, *b); // past the end of the file it reads as zeros, as in QEMU
    if (cache_.size() >= cacheLimit_) {
        writeDeferred(); // the blocks they are in must stay until then
        cache_.clear();
    }
    cache_.emplace(offset, b);
    return b;
}

uint64_t Qcow2Refcounts::readEntry(const std::vector<uint8_t>& b, uint64_t i) const {
    switch (refcountBits_) {
    case 8:
        return b[i];
    case 16:
        return getBe16(&b[i * 2]);
    case 32:
        return getBe32(&b[i * 4]);
    case 64:
        return getBe64(&b[i * 8]);
    default: {
        uint64_t bit = i * refcountBits_;
        return (b[bit / 8] >> (bit % 8)) & ((1u << refcountBits_) - 1);
    }
    }
}

void Qcow2Refcounts::writeEntry(std::vector<uint8_t>& b, uint64_t i, uint64_t v) const {
    switch (refcountBits_) {
    case 8:
        b[i] = uint8_t(v);
        break;
    case 16:
        putBe16(&b[i * 2], uint16_t(v));
        break;
    case 32:
        putBe32(&b[i * 4], uint32_t(v));
        break;
    case 64:
        putBe64(&b[i * 8], v);
        break;
    default: {
        uint64_t bit = i * refcountBits_;
        uint8_t mask = uint8_t(((1u << refcountBits_) - 1) << (bit % 8));
        b[bit / 8] = uint8_t((b[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
    }
    }
}

void Qcow2Refcounts::writeBlockSpan(uint64_t blockOffset, const std::vector<uint8_t>& b,
                                    uint64_t first, uint64_t last) {
    // Deferred only while `b` is the cached block (writeDeferred() takes it from there).
    auto cached = cache_.find(blockOffset);
    const bool isCached = cached != cache_.end() && cached->second.get() == &b;
    auto keepPending = [&] {
        auto [it, added] = pending_.emplace(blockOffset, std::pair(first, last));
        if (!added)
            it->second = {std::min(it->second.first, first), std::max(it->second.second, last)};
    };
    if (deferred_ && isCached) {
        if (pending_.empty() && onFirstDeferral_)
            onFirstDeferral_();
        keepPending();
        return;
    }
    uint64_t from = first * refcountBits_ / 8;
    uint64_t to = ((last + 1) * refcountBits_ + 7) / 8;
    if (writeCheck_) {
        try {
            writeCheck_(blockOffset + from, to - from);
        } catch (...) {
            // As QEMU's refcount block cache: the change stays in the cached block, dirty;
            // writeDeferred() (a flush, close) tries it again and is refused again.
            if (isCached)
                keepPending();
            throw;
        }
    }
    file_.debugEvent(BlkdebugEvent::RefblockUpdatePart);
    writeBlockPart(blockOffset, from, std::span(b.data() + from, size_t(to - from)));
}

void Qcow2Refcounts::writeBlockPart(uint64_t blockOffset, uint64_t from,
                                    std::span<const uint8_t> bytes) {
    try {
        file_.write(blockOffset + from, bytes);
    } catch (const BlockError& e) {
        throw BlockError(e.errnoValue(), "refcount block at " + hex(blockOffset) +
                                             " could not be written: " + e.what());
    }
}

uint64_t Qcow2Refcounts::get(uint64_t cluster) {
    uint64_t t = cluster / entriesPerBlock_;
    if (t >= table_.size())
        return 0;
    uint64_t off = table_[t] & kRefTableOffsetMask;
    if (off == 0)
        return 0;
    return readEntry(*loadBlock(off), cluster % entriesPerBlock_);
}

bool Qcow2Refcounts::reserved(uint64_t cluster, uint64_t* end) const {
    for (auto [s, e] : reserved_)
        if (cluster >= s && cluster < e) {
            *end = e;
            return true;
        }
    return false;
}

uint64_t Qcow2Refcounts::findFree(uint64_t n, uint64_t from, uint64_t* firstFree) {
    const uint64_t limit = kMaxHostOffset >> clusterBits_;
    uint64_t runStart = from;
    bool sawFree = false;
    uint64_t c = from;
    while (true) {
        if (c + (n - (c - runStart)) > limit)
            throwError(ENOSPC, file_.path(),
                       "no room for new clusters below the 64 PiB host offset limit");
        uint64_t end;
        if (reserved(c, &end)) {
            c = runStart = end;
            continue;
        }
        uint64_t t = c / entriesPerBlock_;
        if (t >= table_.size() || (table_[t] & kRefTableOffsetMask) == 0) {
            // The whole block is free.
            if (!sawFree && firstFree) {
                *firstFree = c;
                sawFree = true;
            }
            uint64_t blockEnd = (t + 1) * entriesPerBlock_;
            uint64_t need = runStart + n;
            // Reserved ranges inside this block still need the slow path.
            bool anyReserved = false;
            for (auto [s, e] : reserved_)
                if (e > c && s < blockEnd)
                    anyReserved = true;
            if (!anyReserved) {
                if (need <= blockEnd)
                    return runStart;
                c = blockEnd;
                continue;
            }
            if (c + 1 - runStart == n)
                return runStart;
            ++c;
            continue;
        }
        Block b = loadBlock(table_[t] & kRefTableOffsetMask);
        uint64_t blockEnd = (t + 1) * entriesPerBlock_;
        for (; c < blockEnd; ++c) {
            if (!reserved_.empty() && reserved(c, &end))
                break;
            if (readEntry(*b, c % entriesPerBlock_) != 0) {
                runStart = c + 1;
                continue;
            }
            if (!sawFree && firstFree) {
                *firstFree = c;
                sawFree = true;
            }
            if (c + 1 - runStart == n)
                return runStart;
        }
    }
}

// Refcount blocks are created the way QEMU creates them, so that images get the same layout:
// the block takes the next free cluster; if the table has no entry for it, a new table (half
// again as large as needed) and the blocks that cover it are laid out at the first refcount
// block boundary above both.
void Qcow2Refcounts::createBlock(uint64_t t) {
    uint64_t c = findFree(1, freeIndex_, nullptr);
    if (placementCheck_)
        placementCheck_(c * clusterSize_, clusterSize_, "refcount block");
    freeIndex_ = c + 1;
    reserved_.push_back({c, c + 1});
    uint64_t tc = c / entriesPerBlock_;
    std::vector<uint8_t> b(clusterSize_, 0);
    if (tc == t) {
        writeEntry(b, c % entriesPerBlock_, 1);
        file_.debugEvent(BlkdebugEvent::RefblockAllocWrite);
        file_.write(c * clusterSize_, b);
    } else {
        file_.debugEvent(BlkdebugEvent::RefblockAllocWrite);
        file_.write(c * clusterSize_, b);
        ensureBlock(tc);
        change(c, 1, +1, nullptr);
    }
    cache_[c * clusterSize_] = std::make_shared<std::vector<uint8_t>>(std::move(b));
    blockOffsets_.insert(c * clusterSize_);
    if (t >= table_.size()) {
        layArea((std::max(t, tc) + 1) * entriesPerBlock_, 0, true, t, c * clusterSize_);
        return;
    }
    file_.sync(); // the block before the table entry that points at it
    table_[t] = c * clusterSize_;
    uint8_t e[8];
    putBe64(e, table_[t]);
    file_.debugEvent(BlkdebugEvent::RefblockAllocHookup);
    file_.write(tableOffset_ + t * 8, e);
}

void Qcow2Refcounts::ensureBlock(uint64_t t) {
    if (t >= table_.size() || (table_[t] & kRefTableOffsetMask) == 0)
        createBlock(t);
}

void Qcow2Refcounts::change(uint64_t first, uint64_t count, int64_t delta,
                            std::vector<uint64_t>* freed) {
    uint64_t c = first;
    const uint64_t end = first + count;
    while (c < end) {
        uint64_t t = c / entriesPerBlock_;
        // As QEMU's refcount updates: refblock_alloc for every block they touch, then
        // refblock_load when it exists (reading refcounts alone raises neither).
        file_.debugEvent(BlkdebugEvent::RefblockAlloc);
        if (delta > 0)
            ensureBlock(t);
        else if (t >= table_.size() || (table_[t] & kRefTableOffsetMask) == 0)
            throwError(EIO, file_.path(),
                       "refcount underflow: cluster " + std::to_string(c) +
                           " has no refcount block");
        uint64_t blockOffset = table_[t] & kRefTableOffsetMask;
        file_.debugEvent(BlkdebugEvent::RefblockLoad);
        Block b = loadBlock(blockOffset);
        uint64_t stop = std::min(end, (t + 1) * entriesPerBlock_);
        uint64_t i0 = c % entriesPerBlock_;
        for (uint64_t x = c; x < stop; ++x) {
            uint64_t i = x % entriesPerBlock_;
            uint64_t v = readEntry(*b, i);
            // EINVAL as QEMU's refcount update: a snapshot that would take a refcount past
            // the width fails with it ("Could not create snapshot: -22").
            if (delta > 0 && v > maxRefcount_ - uint64_t(delta))
                throwError(EINVAL, file_.path(),
                           "refcount overflow for cluster " + std::to_string(x));
            if (delta < 0 && v < uint64_t(-delta))
                throwError(EINVAL, file_.path(),
                           "refcount underflow for cluster " + std::to_string(x) +
                               " (host offset " + hex(x * clusterSize_) + ")");
            v = uint64_t(int64_t(v) + delta);
            writeEntry(*b, i, v);
            if (v == 0) {
                freeIndex_ = std::min(freeIndex_, x);
                if (freeByteOffset_ && (freeByteOffset_ >> clusterBits_) == x)
                    freeByteOffset_ = 0;
                if (freed)
                    freed->push_back(x);
            }
        }
        writeBlockSpan(blockOffset, *b, i0, (stop - 1) % entriesPerBlock_);
        c = stop;
    }
}

void Qcow2Refcounts::increment(uint64_t first, uint64_t count) {
    reserved_.push_back({first, first + count}); // new refcount blocks go elsewhere
    change(first, count, +1, nullptr);
    reserved_.clear();
}

void Qcow2Refcounts::decrement(uint64_t first, uint64_t count, std::vector<uint64_t>* freed) {
    file_.debugEvent(BlkdebugEvent::ClusterFree);
    change(first, count, -1, freed);
}

void Qcow2Refcounts::set(uint64_t cluster, uint64_t value) {
    ensureBlock(cluster / entriesPerBlock_);
    uint64_t t = cluster / entriesPerBlock_;
    uint64_t blockOffset = table_[t] & kRefTableOffsetMask;
    Block b = loadBlock(blockOffset);
    uint64_t i = cluster % entriesPerBlock_;
    writeEntry(*b, i, std::min(value, maxRefcount_));
    writeBlockSpan(blockOffset, *b, i, i);
    if (value == 0)
        freeIndex_ = std::min(freeIndex_, cluster);
    reserved_.clear();
}

// As QEMU: the first run of free clusters at or after the free pointer, which then moves past
// it (holes below are reused only after a cluster below is freed); when the run needs a
// refcount block that does not exist yet, the block is created and the search starts again.
uint64_t Qcow2Refcounts::allocate(uint64_t n, const char* what) {
    file_.debugEvent(BlkdebugEvent::ClusterAlloc);
    reserved_.clear();
    while (true) {
        uint64_t start = findFree(n, freeIndex_, nullptr);
        freeIndex_ = start + n;
        bool created = false;
        for (uint64_t t = start / entriesPerBlock_; t <= (start + n - 1) / entriesPerBlock_; ++t)
            if (t >= table_.size() || (table_[t] & kRefTableOffsetMask) == 0) {
                file_.debugEvent(BlkdebugEvent::RefblockAlloc);
                createBlock(t);
                // QEMU's search then starts again from the run (the new block may be in it).
                freeIndex_ = std::min(freeIndex_, start);
                created = true;
                break;
            }
        reserved_.clear();
        if (created)
            continue;
        if (start == 0 && what && placementCheck_)
            placementCheck_(0, n << clusterBits_, what);
        change(start, n, +1, nullptr);
        return start;
    }
}

uint64_t Qcow2Refcounts::allocateAt(uint64_t first, uint64_t n) {
    const uint64_t limit = kMaxHostOffset >> clusterBits_;
    reserved_.clear();
    while (true) {
        uint64_t k = 0;
        while (k < n && first + k < limit && get(first + k) == 0)
            ++k;
        if (k == 0)
            return 0;
        // A missing refcount block is made first (it may land inside the run, which is then
        // counted again), as QEMU does.
        bool created = false;
        for (uint64_t t = first / entriesPerBlock_; t <= (first + k - 1) / entriesPerBlock_; ++t)
            if (t >= table_.size() || (table_[t] & kRefTableOffsetMask) == 0) {
                file_.debugEvent(BlkdebugEvent::RefblockAlloc);
                createBlock(t);
                created = true;
                break;
            }
        reserved_.clear();
        if (created)
            continue;
        change(first, k, +1, nullptr);
        return k;
    }
}

void Qcow2Refcounts::corrupt(int err, const std::string& what) {
    if (corruptionReport_) {
        try {
            corruptionReport_(what);
        } catch (const BlockError&) {
            // Reported; the error is this one.
        }
    }
    throwError(err, file_.path(), what);
}

void Qcow2Refcounts::dropUnusedBlocks() {
    std::vector<uint64_t> unused;
    for (uint64_t t = 0; t < table_.size(); ++t) {
        const uint64_t off = table_[t] & kRefTableOffsetMask;
        if (!off)
            continue;
        if (off & (clusterSize_ - 1)) {
            char what[96];
            std::snprintf(what, sizeof what,
                          "Cannot get entry from refcount block cache: Offset %#" PRIx64
                          " is unaligned",
                          off);
            corrupt(EIO, what);
        }
        std::vector<uint8_t> copy = *loadBlock(off);
        const uint64_t own = off >> clusterBits_;
        if (own / entriesPerBlock_ == t)
            writeEntry(copy, own % entriesPerBlock_, 0); // its count of itself does not matter
        if (std::all_of(copy.begin(), copy.end(), [](uint8_t v) { return v == 0; }))
            unused.push_back(t);
    }
    if (unused.empty())
        return;
    for (uint64_t t : unused) {
        uint8_t e[8];
        putBe64(e, 0);
        file_.write(tableOffset_ + t * 8, e);
    }
    file_.sync(); // no table entry points at a block once its cluster can be reused
    // As QEMU: each dropped block loses the reference its covering block (still in the
    // table) gives it; once that fails, the remaining entries only leave the table.
    std::optional<BlockError> failure;
    for (uint64_t t : unused) {
        const uint64_t off = table_[t] & kRefTableOffsetMask;
        if (!failure) {
            try {
                dropBlockReference(off);
            } catch (const BlockError& e) {
                failure = e;
            }
        }
        table_[t] = 0;
        blockOffsets_.erase(off);
        cache_.erase(off);
        pending_.erase(off); // a held-back change of the dropped block itself is moot
    }
    if (failure)
        throw *failure;
}

void Qcow2Refcounts::dropBlockReference(uint64_t off) {
    const uint64_t cluster = off >> clusterBits_;
    const uint64_t covering = cluster / entriesPerBlock_;
    const uint64_t coveringOffset =
        covering < table_.size() ? table_[covering] & kRefTableOffsetMask : 0;
    if (!coveringOffset) {
        char what[96];
        std::snprintf(what, sizeof what,
                      "Refblock at %#" PRIx64 " is not covered by the refcount structures", off);
        corrupt(EIO, what);
    }
    const uint64_t count = get(cluster);
    if (count != 1) {
        char what[160];
        std::snprintf(what, sizeof what,
                      "Invalid refcount: refblock offset %#" PRIx64 ", reftable index %" PRIu64
                      ", block offset %#" PRIx64 ", refcount %#" PRIx64,
                      coveringOffset, covering, off, count);
        corrupt(EINVAL, what);
    }
    change(cluster, 1, -1, nullptr);
}

uint64_t Qcow2Refcounts::usedEnd(uint64_t clusters) {
    while (clusters > 0 && get(clusters - 1) == 0)
        --clusters;
    return clusters;
}

uint64_t Qcow2Refcounts::allocateBytes(uint64_t bytes, const char* what) {
    file_.debugEvent(BlkdebugEvent::ClusterAllocBytes);
    // The partly used cluster is shared only while its refcount can grow: at the maximum (one
    // compressed cluster with refcount_bits=1) a new cluster is taken, as QEMU does.
    uint64_t shared = 0;
    if (freeByteOffset_ && (freeByteOffset_ & (clusterSize_ - 1)) &&
        bytes <= clusterSize_ - (freeByteOffset_ & (clusterSize_ - 1)))
        shared = get(freeByteOffset_ >> clusterBits_);
    if (shared > 0 && shared < maxRefcount_) {
        uint64_t off = freeByteOffset_;
        change(off >> clusterBits_, 1, +1, nullptr);
        freeByteOffset_ += bytes;
        if ((freeByteOffset_ & (clusterSize_ - 1)) == 0)
            freeByteOffset_ = 0;
        return off;
    }
    uint64_t off = allocate(1, what) << clusterBits_;
    freeByteOffset_ = off + bytes;
    if ((freeByteOffset_ & (clusterSize_ - 1)) == 0)
        freeByteOffset_ = 0;
    return off;
}

uint64_t Qcow2Refcounts::placeArea(uint64_t start, uint64_t additional) {
    return layArea(start, additional, false, 0, 0);
}

uint64_t Qcow2Refcounts::layArea(uint64_t start, uint64_t additional, bool generous,
                                 uint64_t presetIndex, uint64_t presetOffset) {
    const uint64_t E = entriesPerBlock_;
    const uint64_t perTableCluster = clusterSize_ / 8;
    // Clusters the area is placed over may be taken by a pending increment (rare).
    for (auto [s, e] : reserved_)
        if (e > start)
            start = (e + E - 1) / E * E;
    // Fixed point: blocks and table clusters that count every cluster including themselves
    // (growing the table: once more with half the table clusters again as headroom).
    uint64_t clusters = start + additional;
    uint64_t blocks = 0, tableClusters = 0, total = 0, last = 0;
    bool headroom = generous;
    do {
        last = total;
        blocks = (clusters + tableClusters + blocks + E - 1) / E;
        tableClusters = (blocks + perTableCluster - 1) / perTableCluster;
        total = clusters + blocks + tableClusters;
        if (total == last && headroom) {
            clusters += (tableClusters + 1) / 2;
            total = 0;
            headroom = false;
        }
    } while (total != last);
    uint64_t entries = generous ? blocks + (blocks + 1) / 2 : blocks;
    entries = (entries + perTableCluster - 1) / perTableCluster * perTableCluster;
    tableClusters = entries / perTableCluster;
    if (tableClusters * clusterSize_ > kMaxRefTableBytes)
        throwError(EFBIG, file_.path(), "the refcount table would grow past 8 MiB");
    for (uint64_t i = entries; i < table_.size(); ++i)
        if (table_[i] & kRefTableOffsetMask)
            throwError(EIO, file_.path(), "refcount area: a refcount block lies past the area");
    std::vector<uint64_t> newTable(table_);
    newTable.resize(entries, 0);
    if (presetOffset)
        newTable[presetIndex] = presetOffset;
    const uint64_t first = start / E;
    uint64_t missing = 0;
    for (uint64_t i = first; i < blocks; ++i)
        missing += (newTable[i] & kRefTableOffsetMask) == 0;
    const uint64_t tableAt = start + missing;
    const uint64_t end = tableAt + tableClusters;
    uint64_t next = start;
    file_.debugEvent(BlkdebugEvent::RefblockAllocWriteBlocks);
    for (uint64_t i = first; i < blocks; ++i) {
        Block b;
        const bool created = (newTable[i] & kRefTableOffsetMask) == 0;
        if (created) {
            newTable[i] = next++ * clusterSize_;
            b = std::make_shared<std::vector<uint8_t>>(clusterSize_, 0);
        } else {
            b = loadBlock(newTable[i] & kRefTableOffsetMask);
        }
        const uint64_t covered = i * E;
        const uint64_t from = std::max(covered, start), to = std::min(covered + E, end);
        for (uint64_t c = from; c < to; ++c) {
            if (readEntry(*b, c - covered) != 0)
                throwError(EIO, file_.path(),
                           "refcount area: cluster " + std::to_string(c) + " is in use");
            writeEntry(*b, c - covered, 1);
        }
        const uint64_t offset = newTable[i] & kRefTableOffsetMask;
        if (created && placementCheck_)
            placementCheck_(offset, clusterSize_, "refcount block");
        if (created)
            file_.write(offset, *b);
        else if (from < to)
            writeBlockSpan(offset, *b, from - covered, to - 1 - covered);
        blockOffsets_.insert(offset);
        cache_[offset] = b;
    }
    std::vector<uint8_t> raw(size_t(tableClusters * clusterSize_), 0);
    for (uint64_t i = 0; i < entries; ++i)
        putBe64(&raw[i * 8], newTable[i]);
    if (placementCheck_)
        placementCheck_(tableAt * clusterSize_, raw.size(), "refcount table");
    file_.debugEvent(BlkdebugEvent::RefblockAllocWriteTable);
    file_.write(tableAt * clusterSize_, raw);
    file_.sync(); // the blocks and the table before the header that points at them
    const uint64_t oldOffset = tableOffset_;
    const uint32_t oldClusters = tableClusters_;
    file_.debugEvent(BlkdebugEvent::RefblockAllocSwitchTable);
    onTableMoved_(tableAt * clusterSize_, uint32_t(tableClusters));
    file_.sync(); // the header before the old table is freed
    table_ = std::move(newTable);
    tableOffset_ = tableAt * clusterSize_;
    tableClusters_ = uint32_t(tableClusters);
    reserved_.clear();
    if (oldClusters)
        decrement(oldOffset >> clusterBits_, oldClusters);
    return end;
}

} // namespace e2kvm::block::qcow2

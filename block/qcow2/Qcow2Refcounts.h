#pragma once
// Qcow2Refcounts: the two-level refcount structure of a qcow2 image (refcount table and
// refcount blocks), cluster allocation on top of it, and growth of the table. Every change is
// written through to the file at once (unless deferred for lazy refcounts) (refcount increments
// reach the file before whatever will reference the cluster; the driver's barrier syncs them before
// that reference is written). A new refcount block or table is synced before the entry or header
// that points at it. Not thread-safe: the driver calls it under its metadata lock.
#include "Qcow2Format.h"
#include "block/HostFile.h"

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

namespace e2kvm::block::qcow2 {

class Qcow2Refcounts {
public:
    // `onTableMoved(offset, clusters)` must rewrite the header fields of the refcount table.
    Qcow2Refcounts(HostFile& file, uint32_t clusterBits, uint32_t refcountOrder,
                   std::vector<uint64_t> table, uint64_t tableOffset, uint32_t tableClusters,
                   std::function<void(uint64_t, uint32_t)> onTableMoved);

    uint64_t get(uint64_t cluster);
    // Sets the refcount of one cluster (creating its refcount block if needed); for repair.
    void set(uint64_t cluster, uint64_t value);
    // Adds one to [first, first+count) (creating refcount blocks as needed).
    void increment(uint64_t first, uint64_t count);
    // Whether the refcount block that counts `cluster` exists.
    bool hasBlock(uint64_t cluster) const {
        const uint64_t t = cluster / entriesPerBlock_;
        return t < table_.size() && (table_[t] & kRefTableOffsetMask) != 0;
    }
    // Creates the refcount block that counts `cluster` if it is missing (growing the table).
    void ensureBlockFor(uint64_t cluster) { ensureBlock(cluster / entriesPerBlock_); }
    // Subtracts one; clusters that drop to zero are appended to `freed` (if given).
    void decrement(uint64_t first, uint64_t count, std::vector<uint64_t>* freed = nullptr);
    // Allocates `n` contiguous clusters (refcount 1); returns the first cluster index. With
    // `what` (the structure they are for: "L2 table", ...), clusters found at offset 0 are
    // refused by the placement check before they are counted, as QEMU refuses them before
    // its cached count reaches the file.
    uint64_t allocate(uint64_t n, const char* what = nullptr);
    // Allocates as many of the `n` clusters from `first` on as are free in a row (refcount 1),
    // as QEMU continues a write's allocation right after its previous piece; returns how many
    // (0 if `first` is in use).
    uint64_t allocateAt(uint64_t first, uint64_t n);
    // Takes the refcount blocks that count no cluster but themselves out of the table and
    // frees them, as QEMU does after shrinking an image (the table entries are durable before
    // the clusters are free).
    void dropUnusedBlocks();
    // One past the last cluster below `clusters` with a nonzero refcount.
    uint64_t usedEnd(uint64_t clusters);
    // Allocates `bytes` (< one cluster) for compressed data, packing several into a cluster.
    // `what` as for allocate().
    uint64_t allocateBytes(uint64_t bytes, const char* what = nullptr);
    // Lays out refcount structures that can count every cluster below `start + additional`,
    // as QEMU does before preallocating an area: the missing refcount blocks from cluster
    // `start` on (which must be free, as everything after it), then a new refcount table of
    // exactly the needed size, which replaces (and frees) the old one. Returns the first
    // cluster after them.
    uint64_t placeArea(uint64_t start, uint64_t additional);

    // Called before a new refcount block or table is written at `offset` (`what`: "refcount
    // block", "refcount table"); throws to refuse the place (a corrupt image hands out its
    // own metadata as free clusters).
    using PlacementCheck = std::function<void(uint64_t offset, uint64_t bytes, const char* what)>;
    void setPlacementCheck(PlacementCheck check) { placementCheck_ = std::move(check); }

    // Called before a refcount block is written at `offset` (QEMU's overlap checks of every
    // metadata write); throws to refuse the write.
    using WriteCheck = std::function<void(uint64_t offset, uint64_t bytes)>;
    void setWriteCheck(WriteCheck check) { writeCheck_ = std::move(check); }

    // Called with QEMU's words for a corruption found in the refcount structure (an unaligned
    // refcount block); may throw (the driver marks the image corrupt).
    using CorruptionReport = std::function<void(const std::string& what)>;
    void setCorruptionReport(CorruptionReport report) { corruptionReport_ = std::move(report); }

    // Lazy refcounts: changes to existing refcount blocks stay in memory until
    // writeDeferred() (new blocks and tables are still written at once). Turning it off
    // writes what is deferred.
    // `onFirstDeferral` runs before the first change is held back (while nothing else is): it
    // must make the image say its refcounts may be stale (the dirty bit).
    void setDeferred(bool deferred, std::function<void()> onFirstDeferral = {});
    bool deferred() const { return deferred_; }
    bool hasDeferred() const { return !pending_.empty(); }
    // Writes the deferred changes (not synced).
    void writeDeferred();

    const std::vector<uint64_t>& table() const { return table_; }
    uint64_t tableOffset() const { return tableOffset_; }
    uint32_t tableClusters() const { return tableClusters_; }
    uint64_t entriesPerBlock() const { return entriesPerBlock_; }
    void dropCache();
    // Whether [offset, offset+length) overlaps a refcount block.
    bool overlapsBlock(uint64_t offset, uint64_t length) const;

private:
    // Writes part of the refcount block at `blockOffset`; a failure names the block (a
    // corrupt table can point it far past any file a host can hold).
    void writeBlockPart(uint64_t blockOffset, uint64_t from, std::span<const uint8_t> bytes);
    using Block = std::shared_ptr<std::vector<uint8_t>>;
    Block loadBlock(uint64_t offset);
    // Reports a corruption (corruptionReport_) and throws `err` for it.
    [[noreturn]] void corrupt(int err, const std::string& what);
    // dropUnusedBlocks: the refcount of the dropped block at `off` goes from 1 to 0.
    void dropBlockReference(uint64_t off);
    uint64_t readEntry(const std::vector<uint8_t>& b, uint64_t i) const;
    void writeEntry(std::vector<uint8_t>& b, uint64_t i, uint64_t v) const;
    void writeBlockSpan(uint64_t blockOffset, const std::vector<uint8_t>& b, uint64_t first,
                        uint64_t last);
    void ensureBlock(uint64_t blockIndex);
    void createBlock(uint64_t blockIndex);
    uint64_t layArea(uint64_t start, uint64_t additional, bool generous, uint64_t presetIndex,
                     uint64_t presetOffset);
    uint64_t findFree(uint64_t n, uint64_t from, uint64_t* firstFree);
    void change(uint64_t first, uint64_t count, int64_t delta, std::vector<uint64_t>* freed);
    bool reserved(uint64_t cluster, uint64_t* end) const;

    HostFile& file_;
    uint32_t clusterBits_;
    uint64_t clusterSize_;
    uint32_t refcountBits_;
    uint64_t maxRefcount_;
    uint64_t entriesPerBlock_;
    std::vector<uint64_t> table_;
    uint64_t tableOffset_;
    uint32_t tableClusters_;
    std::function<void(uint64_t, uint32_t)> onTableMoved_;
    PlacementCheck placementCheck_;
    WriteCheck writeCheck_;
    CorruptionReport corruptionReport_;
    uint64_t freeIndex_ = 0;      // no free cluster below this index
    uint64_t freeByteOffset_ = 0; // next byte for compressed data (0: start a new cluster)
    std::vector<std::pair<uint64_t, uint64_t>> reserved_; // chosen but not yet counted
    std::set<uint64_t> blockOffsets_;                     // host offsets of all refcount blocks
    std::unordered_map<uint64_t, Block> cache_;
    bool deferred_ = false;
    std::function<void()> onFirstDeferral_;
    // Deferred changes: refcount block offset -> its first and last changed entry (the block
    // stays in cache_ until written).
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> pending_;
    size_t cacheLimit_;
};

} // namespace e2kvm::block::qcow2

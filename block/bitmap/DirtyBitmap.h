#pragma once
// DirtyBitmap: which granules of a disk were written, one bit per granule (granularity a power
// of two, 512 B .. 2 GiB; disks up to 2^63 bytes). Hierarchical so that finding the next dirty
// or clean granule of a huge, mostly clean bitmap is cheap. Thread-safe.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace e2kvm::block {

// One run of equally dirty (or clean) bytes, as block status reports it.
struct DirtyExtent {
    uint64_t offset = 0;
    uint64_t length = 0; // > 0
    bool dirty = false;
    bool operator==(const DirtyExtent&) const = default;
};

class DirtyBitmap {
public:
    static constexpr uint64_t kMinGranularity = 512;
    static constexpr uint64_t kMaxGranularity = uint64_t{1} << 31;
    static constexpr uint64_t kMaxDiskSize = uint64_t{1} << 63;
    // At most 2^38 granules (32 GiB of bits): a 2^63-byte disk needs >= 32 MiB granules.
    static constexpr uint64_t kMaxGranules = uint64_t{1} << 38;

    // Throws BlockError: EINVAL for a granularity that is not a power of two in
    // [512 B, 2 GiB] or a disk larger than 2^63; EFBIG for more than kMaxGranules granules;
    // ENOMEM when the bits cannot be allocated.
    DirtyBitmap(uint64_t diskSize, uint64_t granularity);
    ~DirtyBitmap();
    DirtyBitmap(const DirtyBitmap& other);
    DirtyBitmap& operator=(const DirtyBitmap& other);

    uint64_t diskSize() const;
    uint64_t granularity() const;
    // ceil(diskSize / granularity)
    uint64_t granuleCount() const;

    // Marks every granule that overlaps [offset, offset+length) dirty. Ranges past the end of
    // the disk throw BlockError(EINVAL); a zero length does nothing.
    void set(uint64_t offset, uint64_t length);
    // Marks every granule that overlaps [offset, offset+length) clean.
    void reset(uint64_t offset, uint64_t length);
    void clear();
    // Whether the granule holding `offset` is dirty (false at or past the end of the disk).
    bool test(uint64_t offset) const;
    // First byte offset in [offset, limit) whose granule is dirty (clean), if any. The result
    // is `offset` itself when its granule matches, else a granule boundary. `limit` is clamped
    // to the disk size.
    std::optional<uint64_t> nextDirty(uint64_t offset, uint64_t limit) const;
    std::optional<uint64_t> nextClean(uint64_t offset, uint64_t limit) const;
    // At most maxExtents alternating runs covering a prefix of [offset, offset+length), clipped
    // to it at byte granularity, all from one consistent look at the bitmap. Throws
    // BlockError(EINVAL) if the range extends past the disk.
    std::vector<DirtyExtent> extents(uint64_t offset, uint64_t length, size_t maxExtents) const;
    // Number of dirty bytes: dirty granules times granularity, the last one clipped to the disk.
    uint64_t dirtyBytes() const;
    // Number of dirty granules.
    uint64_t dirtyGranules() const;
    // OR `other` into this bitmap (same disk size; any granularity: every granule of this
    // bitmap that overlaps a dirty granule of `other` becomes dirty).
    void merge(const DirtyBitmap& other);
    // Changes the disk size; new granules are clean.
    void resize(uint64_t newDiskSize);
    // Grows the disk size to at least `minDiskSize` (atomically; never shrinks).
    void growTo(uint64_t minDiskSize);
    // Bytes of memory held for the bits and their summaries.
    uint64_t memoryBytes() const;

    // The on-disk (qcow2) form: bit k = granule k, LSB first within each byte.
    uint64_t serializedSize() const; // ceil(granules / 8)
    // Copies serialized bytes [byteOffset, byteOffset+out.size()); EINVAL past the end.
    void serialize(uint64_t byteOffset, std::span<uint8_t> out) const;
    // Replaces serialized bytes [byteOffset, byteOffset+in.size()); bits past the last granule
    // are ignored; EINVAL past the end.
    void deserialize(uint64_t byteOffset, std::span<const uint8_t> in);
    // Whether the serialized bytes [byteOffset, byteOffset+length) are all zero.
    bool serializedRangeIsZero(uint64_t byteOffset, uint64_t length) const;

private:
    struct Impl;
    Impl* impl_;
};

} // namespace e2kvm::block

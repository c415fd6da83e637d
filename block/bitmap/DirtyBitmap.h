#pragma once
// DirtyBitmap: which granules of a disk were written, one bit per granule (granularity a power
// of two, 512 B .. 2 GiB; disks up to 2^63 bytes). Hierarchical so that finding the next dirty
// or clean granule of a huge, mostly clean bitmap is cheap. Thread-safe.
#include <cstdint>
#include <optional>
#include <span>

namespace e2kvm::block {

class DirtyBitmap {
public:
    DirtyBitmap(uint64_t diskSize, uint64_t granularity);
    ~DirtyBitmap();
    DirtyBitmap(const DirtyBitmap& other);
    DirtyBitmap& operator=(const DirtyBitmap& other);

    uint64_t diskSize() const;
    uint64_t granularity() const;

    // Marks every granule that overlaps [offset, offset+length) dirty.
    void set(uint64_t offset, uint64_t length);
    // Marks every granule that overlaps [offset, offset+length) clean.
    void reset(uint64_t offset, uint64_t length);
    void clear();
    bool test(uint64_t offset) const;
    // First byte offset in [offset, limit) whose granule is dirty (clean), if any. The result
    // is `offset` itself when its granule matches, else a granule boundary.
    std::optional<uint64_t> nextDirty(uint64_t offset, uint64_t limit) const;
    std::optional<uint64_t> nextClean(uint64_t offset, uint64_t limit) const;
    // Number of dirty bytes: dirty granules times granularity, the last one clipped to the disk.
    uint64_t dirtyBytes() const;
    // OR `other` into this bitmap (same disk size; any granularity).
    void merge(const DirtyBitmap& other);
    // Changes the disk size; new granules are clean.
    void resize(uint64_t newDiskSize);

    // The on-disk (qcow2) form: bit k = granule k, LSB first within each byte.
    uint64_t serializedSize() const; // ceil(granules / 8)
    void serialize(uint64_t byteOffset, std::span<uint8_t> out) const;
    void deserialize(uint64_t byteOffset, std::span<const uint8_t> in);
    // Whether the serialized bytes [byteOffset, byteOffset+length) are all zero.
    bool serializedRangeIsZero(uint64_t byteOffset, uint64_t length) const;

private:
    struct Impl;
    Impl* impl_;
};

} // namespace e2kvm::block

#pragma once
// Qcow2Format: on-disk constants of the qcow2 format (docs/interop/qcow2.txt) and big-endian
// field access. No I/O here.
#include <cstdint>
#include <cstring>

namespace e2kvm::block::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb; // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
inline constexpr uint64_t kMaxL1Bytes = 32ull << 20;      // QEMU's limit for an L1 table
inline constexpr uint64_t kMaxRefTableBytes = 8ull << 20; // QEMU's limit for the refcount table
inline constexpr uint32_t kMaxSnapshots = 65536;
inline constexpr uint64_t kMaxSnapshotTableBytes = 64ull << 20;
inline constexpr uint32_t kMaxBackingNameLength = 1023;
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3HeaderLength = 112; // what QEMU >= 5.1 writes

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1ull << 0;
inline constexpr uint64_t kIncompatCorrupt = 1ull << 1;
inline constexpr uint64_t kIncompatDataFile = 1ull << 2;
inline constexpr uint64_t kIncompatCompression = 1ull << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1ull << 4;
inline constexpr uint64_t kIncompatKnown = 0x1f;
// Compatible feature bits.
inline constexpr uint64_t kCompatLazyRefcounts = 1ull << 0;
// Autoclear feature bits.
inline constexpr uint64_t kAutoclearBitmaps = 1ull << 0;
inline constexpr uint64_t kAutoclearDataFileRaw = 1ull << 1;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtCrypto = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// L1 / L2 / refcount table entries.
inline constexpr uint64_t kOflagCopied = 1ull << 63;
inline constexpr uint64_t kOflagCompressed = 1ull << 62;
inline constexpr uint64_t kOflagZero = 1ull << 0;
inline constexpr uint64_t kL1OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kL2OffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kRefTableOffsetMask = 0xfffffffffffffe00ull;
inline constexpr uint64_t kMaxHostOffset = 1ull << 56;
// Bits of a table entry that must be zero (QEMU's check reports them as corruptions): an L1
// entry, a standard (not compressed) L2 entry, a refcount table entry.
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001ffull;
inline constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001feull;
inline constexpr uint64_t kRefTableReservedMask = 0x1ffull;
// Extended L2 entries: 32 subclusters per cluster; bit i of the bitmap says subcluster i is
// allocated, bit 32 + i that it reads as zero.
inline constexpr unsigned kSubclustersPerCluster = 32;
inline constexpr uint64_t kSubclusterAllocMask = 0x00000000ffffffffull;
inline constexpr uint64_t kSubclusterZeroMask = 0xffffffff00000000ull;
// Bitmap bits "allocated" of subclusters [from, to).
inline uint64_t subclusterAllocRange(unsigned from, unsigned to) {
    return to <= from
               ? 0
               : (((to == 32 ? 0 : 1ull << to) - 1) & ~((1ull << from) - 1)) & kSubclusterAllocMask;
}
// Bitmap bits "reads as zero" of subclusters [from, to).
inline uint64_t subclusterZeroRange(unsigned from, unsigned to) {
    return subclusterAllocRange(from, to) << 32;
}

inline uint16_t getBe16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t getBe32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint64_t getBe64(const uint8_t* p) {
    return uint64_t(getBe32(p)) << 32 | getBe32(p + 4);
}
inline void putBe16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline void putBe32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}
inline void putBe64(uint8_t* p, uint64_t v) {
    putBe32(p, uint32_t(v >> 32));
    putBe32(p + 4, uint32_t(v));
}

// What one standard L2 entry means.
enum class ClusterType { Unallocated, ZeroPlain, ZeroAlloc, Normal, Compressed };

// `externalData`: the image has an external data file, where host offset 0 is a valid data
// cluster; such an entry is told from "unallocated" by its COPIED flag (always set there).
inline ClusterType clusterType(uint64_t entry, bool zeroFlagValid, bool externalData = false) {
    if (entry & kOflagCompressed)
        return ClusterType::Compressed;
    if (zeroFlagValid && (entry & kOflagZero))
        return (entry & kL2OffsetMask) ? ClusterType::ZeroAlloc : ClusterType::ZeroPlain;
    if (entry & kL2OffsetMask)
        return ClusterType::Normal;
    return externalData && (entry & kOflagCopied) ? ClusterType::Normal : ClusterType::Unallocated;
}

// Compressed descriptor: host byte offset and the byte range it occupies on disk.
struct CompressedExtent {
    uint64_t offset;
    uint64_t size; // bytes from offset to the end of its last 512-byte sector
};

inline CompressedExtent compressedExtent(uint64_t entry, uint32_t clusterBits) {
    uint32_t shift = 62 - (clusterBits - 8);
    uint64_t offsetMask = (1ull << shift) - 1;
    uint64_t sectorsMask = (1ull << (clusterBits - 8)) - 1;
    uint64_t off = entry & offsetMask;
    uint64_t sectors = ((entry >> shift) & sectorsMask) + 1;
    return {off, sectors * 512 - (off & 511)};
}

inline uint64_t compressedEntry(uint64_t hostOffset, uint64_t size, uint32_t clusterBits) {
    uint32_t shift = 62 - (clusterBits - 8);
    uint64_t extraSectors = ((hostOffset + size - 1) >> 9) - (hostOffset >> 9);
    return kOflagCompressed | (extraSectors << shift) | hostOffset;
}

} // namespace e2kvm::block::qcow2

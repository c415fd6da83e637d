#pragma once
// Qcow2BitmapDirectory: pure encode/decode of qcow2 persistent dirty bitmap metadata (the
// bitmaps header extension, the bitmap directory and bitmap tables), with the checks QEMU
// applies when it loads them. No file I/O: callers read and write the bytes.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace e2kvm::block {

inline constexpr uint32_t kQcow2BitmapsExtensionType = 0x23852875;
inline constexpr size_t kQcow2BitmapsExtensionSize = 24;
inline constexpr uint32_t kQcow2MaxBitmaps = 65535;
inline constexpr uint64_t kQcow2MaxBitmapDirectorySize = 1024 * uint64_t{kQcow2MaxBitmaps};
inline constexpr uint32_t kQcow2MaxBitmapTableSize = 0x8000000;
inline constexpr uint64_t kQcow2MaxBitmapDataSize = 0x20000000; // bytes per bitmap
inline constexpr unsigned kQcow2MinBitmapGranularityBits = 9;
inline constexpr unsigned kQcow2MaxBitmapGranularityBits = 31;
inline constexpr size_t kQcow2MaxBitmapNameSize = 1023;
inline constexpr size_t kQcow2BitmapDirEntryHeaderSize = 24;
inline constexpr uint32_t kQcow2BitmapFlagInUse = 1u << 0;
inline constexpr uint32_t kQcow2BitmapFlagAuto = 1u << 1;
// Flags QEMU accepts; everything else (including bit 2, extra_data_compatible) is refused.
inline constexpr uint32_t kQcow2BitmapKnownFlags = kQcow2BitmapFlagInUse | kQcow2BitmapFlagAuto;
inline constexpr uint8_t kQcow2BitmapTypeDirtyTracking = 1;
inline constexpr uint64_t kQcow2BitmapTableOffsetMask = 0x00fffffffffffe00ull;
inline constexpr uint64_t kQcow2BitmapTableReservedMask = 0xff000000000001feull;
inline constexpr uint64_t kQcow2BitmapTableAllOnes = 1;

// The 24-byte payload of header extension 0x23852875.
struct Qcow2BitmapsExtension {
    uint32_t bitmapCount = 0;
    uint64_t directorySize = 0;
    uint64_t directoryOffset = 0;
    bool operator==(const Qcow2BitmapsExtension&) const = default;
};

// One bitmap directory entry (extra data is never accepted, so it has no field).
struct Qcow2BitmapDirEntry {
    uint64_t tableOffset = 0;
    uint32_t tableSize = 0; // entries
    uint32_t flags = 0;
    uint8_t type = kQcow2BitmapTypeDirtyTracking;
    uint8_t granularityBits = 16;
    std::string name;

    bool inUse() const { return flags & kQcow2BitmapFlagInUse; }
    bool autoEnabled() const { return flags & kQcow2BitmapFlagAuto; }
    uint64_t granularity() const { return uint64_t{1} << granularityBits; }
    bool operator==(const Qcow2BitmapDirEntry&) const = default;
};

// One bitmap table entry: a data cluster, or (offset 0) a cluster of all zeros / all ones.
struct Qcow2BitmapTableEntry {
    uint64_t dataOffset = 0;
    bool allOnes = false;
    bool operator==(const Qcow2BitmapTableEntry&) const = default;
};

// What the checks need to know about the image.
struct Qcow2BitmapImageGeometry {
    uint32_t clusterSize = 65536; // power of two, 512 B .. 2 MiB
    uint64_t diskSize = 0;        // virtual size
    uint64_t fileSize = 0;        // host file length; 0 = unknown (no end-of-file checks)
};

// Bytes of bitmap data for a disk: ceil(ceil(diskSize / granularity) / 8).
uint64_t qcow2BitmapDataSize(uint64_t diskSize, unsigned granularityBits);
// Bitmap table entries needed: ceil(data size / cluster size).
uint64_t qcow2BitmapTableSize(uint64_t diskSize, unsigned granularityBits, uint32_t clusterSize);
// Size of a directory entry with this name, padded to 8 bytes.
uint64_t qcow2BitmapDirEntrySize(size_t nameSize);

// All errors below are BlockError(EINVAL) "context: what" naming the bitmap when there is one.
Qcow2BitmapsExtension parseQcow2BitmapsExtension(std::span<const uint8_t> payload,
                                                 const Qcow2BitmapImageGeometry& geometry,
                                                 const std::string& context);
std::array<uint8_t, kQcow2BitmapsExtensionSize>
serializeQcow2BitmapsExtension(const Qcow2BitmapsExtension& ext);
// The extension describing `entries` serialized at `directoryOffset`.
Qcow2BitmapsExtension makeQcow2BitmapsExtension(std::span<const Qcow2BitmapDirEntry> entries,
                                                uint64_t directoryOffset);

// `directory` is the directoryOffset..+directorySize bytes the extension points to.
std::vector<Qcow2BitmapDirEntry> parseQcow2BitmapDirectory(std::span<const uint8_t> directory,
                                                           const Qcow2BitmapsExtension& ext,
                                                           const Qcow2BitmapImageGeometry& geometry,
                                                           const std::string& context);
// Checks one entry as QEMU does on load (flags, type, granularity, name, table placement;
// unless in_use, a table of exactly qcow2BitmapTableSize entries).
void validateQcow2BitmapDirEntry(const Qcow2BitmapDirEntry& entry,
                                 const Qcow2BitmapImageGeometry& geometry,
                                 const std::string& context);
// Checks that a new bitmap can be stored (QEMU's rules for `bitmap --add`).
void validateNewQcow2Bitmap(const std::string& name, unsigned granularityBits,
                            const Qcow2BitmapImageGeometry& geometry, const std::string& context);
// Lays the entries out exactly as QEMU does: 24-byte headers, name, zero padding to 8.
// Validates names, count, flags and sizes (not table placement) first.
std::vector<uint8_t> serializeQcow2BitmapDirectory(std::span<const Qcow2BitmapDirEntry> entries,
                                                   const std::string& context);

// `table` holds tableSize big-endian 8-byte entries of bitmap `bitmapName`.
std::vector<Qcow2BitmapTableEntry> parseQcow2BitmapTable(std::span<const uint8_t> table,
                                                         const Qcow2BitmapImageGeometry& geometry,
                                                         const std::string& context,
                                                         const std::string& bitmapName);
std::vector<uint8_t> serializeQcow2BitmapTable(std::span<const Qcow2BitmapTableEntry> entries);

} // namespace e2kvm::block

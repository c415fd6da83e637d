#include "block/bitmap/Qcow2BitmapDirectory.h"

#include "block/BlockError.h"

#include <bit>
#include <cstdio>
#include <set>
#include <string_view>

namespace e2kvm::block {

namespace {

uint64_t loadBe(const uint8_t* p, unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i)
        v = (v << 8) | p[i];
    return v;
}

void storeBe(uint8_t* p, uint64_t v, unsigned bytes) {
    for (unsigned i = bytes; i-- > 0;) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// 'name' with control and non-ASCII bytes escaped, so a hostile name cannot garble a message.
std::string quoted(const std::string& name) {
    std::string out = "'";
    for (unsigned char c : name) {
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out + "'";
}

[[noreturn]] void fail(const std::string& context, const std::string& what) {
    throwError(EINVAL, context, what);
}

[[noreturn]] void failBitmap(const std::string& context, const std::string& name,
                             const std::string& what) {
    throwError(EINVAL, context, "bitmap " + quoted(name) + ": " + what);
}

// An entry field QEMU's own entry check refuses (granularity, reserved flags, type): QEMU's
// words, which name no field (the callers say which rule was broken).
[[noreturn]] void failConstraints(const std::string& context, const std::string& name) {
    throwError(EINVAL, context, "Bitmap " + quoted(name) + " doesn't satisfy the constraints");
}

void checkGeometry(const Qcow2BitmapImageGeometry& g, const std::string& context) {
    if (g.clusterSize < 512 || g.clusterSize > (2u << 20) || !std::has_single_bit(g.clusterSize))
        fail(context, "cluster size " + std::to_string(g.clusterSize) +
                          " is not a power of two between 512 B and 2 MiB");
}

void checkName(const std::string& name, const std::string& context) {
    if (name.empty())
        fail(context, "bitmap name is empty");
    if (name.size() > kQcow2MaxBitmapNameSize)
        failBitmap(context, name.substr(0, 32) + "...",
                   "name of " + std::to_string(name.size()) + " bytes is longer than " +
                       std::to_string(kQcow2MaxBitmapNameSize));
}

void checkGranularityBits(unsigned bits, const std::string& name, const std::string& context) {
    if (bits < kQcow2MinBitmapGranularityBits || bits > kQcow2MaxBitmapGranularityBits)
        failBitmap(context, name,
                   "granularity_bits " + std::to_string(bits) + " outside " +
                       std::to_string(kQcow2MinBitmapGranularityBits) + ".." +
                       std::to_string(kQcow2MaxBitmapGranularityBits));
}

// The checks that do not depend on where the bitmap's table lives.
void checkEntryFields(const Qcow2BitmapDirEntry& e, const std::string& context) {
    checkName(e.name, context);
    if (e.flags & ~kQcow2BitmapKnownFlags) // reserved flag bits set
        failConstraints(context, e.name);
    if (e.type != kQcow2BitmapTypeDirtyTracking) // not a dirty tracking bitmap (type 1)
        failConstraints(context, e.name);
    if (e.granularityBits < kQcow2MinBitmapGranularityBits ||
        e.granularityBits > kQcow2MaxBitmapGranularityBits)
        failConstraints(context, e.name);
}

} // namespace

uint64_t qcow2BitmapDataSize(uint64_t diskSize, unsigned granularityBits) {
    if (granularityBits >= 64)
        return diskSize ? 1 : 0;
    uint64_t granules =
        (diskSize >> granularityBits) + ((diskSize & ((uint64_t{1} << granularityBits) - 1)) != 0);
    return granules / 8 + (granules % 8 != 0);
}

uint64_t qcow2BitmapTableSize(uint64_t diskSize, unsigned granularityBits, uint32_t clusterSize) {
    uint64_t bytes = qcow2BitmapDataSize(diskSize, granularityBits);
    return bytes / clusterSize + (bytes % clusterSize != 0);
}

uint64_t qcow2BitmapDirEntrySize(size_t nameSize) {
    return (kQcow2BitmapDirEntryHeaderSize + nameSize + 7) & ~uint64_t{7};
}

Qcow2BitmapsExtension parseQcow2BitmapsExtension(std::span<const uint8_t> payload,
                                                 const Qcow2BitmapImageGeometry& geometry,
                                                 const std::string& context) {
    checkGeometry(geometry, context);
    if (payload.size() != kQcow2BitmapsExtensionSize)
        fail(context,
             "bitmaps extension has length " + std::to_string(payload.size()) + ", expected 24");
    Qcow2BitmapsExtension ext;
    ext.bitmapCount = static_cast<uint32_t>(loadBe(payload.data(), 4));
    uint32_t reserved = static_cast<uint32_t>(loadBe(payload.data() + 4, 4));
    ext.directorySize = loadBe(payload.data() + 8, 8);
    ext.directoryOffset = loadBe(payload.data() + 16, 8);
    if (reserved != 0)
        fail(context, "bitmaps extension: reserved field is " + hex(reserved) + ", not zero");
    if (ext.bitmapCount == 0)
        fail(context, "bitmaps extension lists zero bitmaps");
    if (ext.bitmapCount > kQcow2MaxBitmaps)
        fail(context, "bitmaps extension lists " + std::to_string(ext.bitmapCount) +
                          " bitmaps, more than the supported " + std::to_string(kQcow2MaxBitmaps));
    if (ext.directoryOffset == 0 || ext.directoryOffset % geometry.clusterSize != 0)
        fail(context, "bitmap directory offset " + hex(ext.directoryOffset) +
                          " is not a non-zero multiple of the cluster size");
    if (ext.directorySize == 0)
        fail(context, "bitmap directory size is zero");
    if (ext.directorySize > kQcow2MaxBitmapDirectorySize)
        fail(context, "bitmap directory size " + std::to_string(ext.directorySize) +
                          " exceeds the supported " + std::to_string(kQcow2MaxBitmapDirectorySize));
    if (ext.directorySize < uint64_t{ext.bitmapCount} * qcow2BitmapDirEntrySize(1))
        fail(context, "bitmap directory of " + std::to_string(ext.directorySize) +
                          " bytes cannot hold " + std::to_string(ext.bitmapCount) + " bitmaps");
    if (geometry.fileSize != 0 && (ext.directoryOffset >= geometry.fileSize ||
                                   ext.directorySize > geometry.fileSize - ext.directoryOffset))
        fail(context, "bitmap directory at " + hex(ext.directoryOffset) + " (" +
                          std::to_string(ext.directorySize) + " bytes) is past end of file");
    return ext;
}

std::array<uint8_t, kQcow2BitmapsExtensionSize>
serializeQcow2BitmapsExtension(const Qcow2BitmapsExtension& ext) {
    std::array<uint8_t, kQcow2BitmapsExtensionSize> out{};
    storeBe(out.data(), ext.bitmapCount, 4);
    storeBe(out.data() + 8, ext.directorySize, 8);
    storeBe(out.data() + 16, ext.directoryOffset, 8);
    return out;
}

Qcow2BitmapsExtension makeQcow2BitmapsExtension(std::span<const Qcow2BitmapDirEntry> entries,
                                                uint64_t directoryOffset) {
    Qcow2BitmapsExtension ext;
    ext.bitmapCount = static_cast<uint32_t>(entries.size());
    for (const auto& e : entries)
        ext.directorySize += qcow2BitmapDirEntrySize(e.name.size());
    ext.directoryOffset = directoryOffset;
    return ext;
}

void validateQcow2BitmapDirEntry(const Qcow2BitmapDirEntry& e,
                                 const Qcow2BitmapImageGeometry& geometry,
                                 const std::string& context) {
    checkGeometry(geometry, context);
    checkEntryFields(e, context);
    if (e.tableOffset == 0 || e.tableOffset % geometry.clusterSize != 0)
        failBitmap(context, e.name,
                   "bitmap table offset " + hex(e.tableOffset) +
                       " is not a non-zero multiple of the cluster size");
    if (e.tableSize == 0)
        failBitmap(context, e.name, "bitmap table size is zero");
    if (e.tableSize > kQcow2MaxBitmapTableSize)
        failBitmap(context, e.name,
                   "bitmap table of " + std::to_string(e.tableSize) +
                       " entries exceeds the supported " +
                       std::to_string(kQcow2MaxBitmapTableSize));
    uint64_t dataBytes = uint64_t{e.tableSize} * geometry.clusterSize;
    if (dataBytes > kQcow2MaxBitmapDataSize)
        failBitmap(context, e.name,
                   "bitmap table of " + std::to_string(e.tableSize) + " entries addresses " +
                       std::to_string(dataBytes) + " bytes of data, more than 512 MiB");
    // QEMU refuses to load a consistent bitmap whose table is not exactly the size the disk
    // needs; one that was not saved correctly (in_use) may have a stale table of any size.
    uint64_t needed =
        qcow2BitmapTableSize(geometry.diskSize, e.granularityBits, geometry.clusterSize);
    if (!e.inUse() && e.tableSize != needed)
        failBitmap(context, e.name,
                   "bitmap table has " + std::to_string(e.tableSize) + " entries, a disk of " +
                       std::to_string(geometry.diskSize) + " bytes at granularity " +
                       std::to_string(e.granularity()) + " needs " + std::to_string(needed));
    if (geometry.fileSize != 0 && (e.tableOffset >= geometry.fileSize ||
                                   uint64_t{e.tableSize} * 8 > geometry.fileSize - e.tableOffset))
        failBitmap(context, e.name,
                   "bitmap table at " + hex(e.tableOffset) + " is past end of file");
}

void validateNewQcow2Bitmap(const std::string& name, unsigned granularityBits,
                            const Qcow2BitmapImageGeometry& geometry, const std::string& context) {
    checkGeometry(geometry, context);
    checkName(name, context);
    checkGranularityBits(granularityBits, name, context);
    uint64_t bytes = qcow2BitmapDataSize(geometry.diskSize, granularityBits);
    if (bytes > kQcow2MaxBitmapDataSize)
        failBitmap(context, name,
                   "would occupy " + std::to_string(bytes) +
                       " bytes, more than 512 MiB; use a larger granularity");
}

std::vector<Qcow2BitmapDirEntry> parseQcow2BitmapDirectory(std::span<const uint8_t> dir,
                                                           const Qcow2BitmapsExtension& ext,
                                                           const Qcow2BitmapImageGeometry& geometry,
                                                           const std::string& context) {
    checkGeometry(geometry, context);
    if (dir.size() != ext.directorySize)
        fail(context, "bitmap directory is " + std::to_string(dir.size()) +
                          " bytes, the extension says " + std::to_string(ext.directorySize));
    std::vector<Qcow2BitmapDirEntry> entries;
    std::set<std::string> names;
    size_t pos = 0;
    while (pos < dir.size()) {
        if (dir.size() - pos < kQcow2BitmapDirEntryHeaderSize)
            fail(context,
                 "broken bitmap directory: entry at byte " + std::to_string(pos) + " is truncated");
        if (entries.size() >= ext.bitmapCount)
            fail(context, "bitmap directory holds more bitmaps than the " +
                              std::to_string(ext.bitmapCount) + " the extension lists");
        const uint8_t* p = dir.data() + pos;
        Qcow2BitmapDirEntry e;
        e.tableOffset = loadBe(p, 8);
        e.tableSize = static_cast<uint32_t>(loadBe(p + 8, 4));
        e.flags = static_cast<uint32_t>(loadBe(p + 12, 4));
        e.type = p[16];
        e.granularityBits = p[17];
        size_t nameSize = static_cast<size_t>(loadBe(p + 18, 2));
        uint64_t extraSize = loadBe(p + 20, 4);
        uint64_t entrySize = (kQcow2BitmapDirEntryHeaderSize + extraSize + nameSize + 7) & ~7ull;
        if (entrySize > dir.size() - pos)
            fail(context, "broken bitmap directory: entry at byte " + std::to_string(pos) + " (" +
                              std::to_string(entrySize) + " bytes) runs past its end");
        std::string_view nameBytes(reinterpret_cast<const char*>(p) + 24 + extraSize, nameSize);
        e.name.assign(nameBytes);
        if (extraSize != 0)
            failBitmap(context, e.name,
                       "has " + std::to_string(extraSize) +
                           " bytes of extra data, which is not supported");
        if (nameSize == 0)
            fail(context, "bitmap at directory byte " + std::to_string(pos) + " has no name");
        validateQcow2BitmapDirEntry(e, geometry, context);
        if (!names.insert(e.name).second)
            failBitmap(context, e.name, "name appears twice in the bitmap directory");
        entries.push_back(std::move(e));
        pos += entrySize;
    }
    if (entries.size() != ext.bitmapCount)
        fail(context, "bitmap directory holds " + std::to_string(entries.size()) +
                          " bitmaps, the extension lists " + std::to_string(ext.bitmapCount));
    return entries;
}

std::vector<uint8_t> serializeQcow2BitmapDirectory(std::span<const Qcow2BitmapDirEntry> entries,
                                                   const std::string& context) {
    if (entries.size() > kQcow2MaxBitmaps)
        fail(context, std::to_string(entries.size()) + " bitmaps, more than the supported " +
                          std::to_string(kQcow2MaxBitmaps));
    std::set<std::string> names;
    uint64_t total = 0;
    for (const auto& e : entries) {
        checkEntryFields(e, context);
        if (!names.insert(e.name).second)
            failBitmap(context, e.name, "name appears twice");
        total += qcow2BitmapDirEntrySize(e.name.size());
    }
    if (total > kQcow2MaxBitmapDirectorySize)
        fail(context, "bitmap directory of " + std::to_string(total) +
                          " bytes exceeds the supported " +
                          std::to_string(kQcow2MaxBitmapDirectorySize));
    std::vector<uint8_t> out(total, 0);
    size_t pos = 0;
    for (const auto& e : entries) {
        uint8_t* p = out.data() + pos;
        storeBe(p, e.tableOffset, 8);
        storeBe(p + 8, e.tableSize, 4);
        storeBe(p + 12, e.flags, 4);
        p[16] = e.type;
        p[17] = e.granularityBits;
        storeBe(p + 18, e.name.size(), 2);
        // extra_data_size (p + 20) stays 0
        std::copy(e.name.begin(), e.name.end(), p + kQcow2BitmapDirEntryHeaderSize);
        pos += qcow2BitmapDirEntrySize(e.name.size());
    }
    return out;
}

std::vector<Qcow2BitmapTableEntry> parseQcow2BitmapTable(std::span<const uint8_t> table,
                                                         const Qcow2BitmapImageGeometry& geometry,
                                                         const std::string& context,
                                                         const std::string& bitmapName) {
    checkGeometry(geometry, context);
    if (table.size() % 8 != 0)
        failBitmap(context, bitmapName,
                   "bitmap table of " + std::to_string(table.size()) +
                       " bytes is not a whole number of entries");
    std::vector<Qcow2BitmapTableEntry> out;
    out.reserve(table.size() / 8);
    for (size_t i = 0; i < table.size() / 8; ++i) {
        uint64_t raw = loadBe(table.data() + 8 * i, 8);
        std::string where = "bitmap table entry " + std::to_string(i) + " (" + hex(raw) + ")";
        if (raw & kQcow2BitmapTableReservedMask)
            failBitmap(context, bitmapName, where + " has reserved bits set");
        Qcow2BitmapTableEntry e;
        e.dataOffset = raw & kQcow2BitmapTableOffsetMask;
        e.allOnes = raw & kQcow2BitmapTableAllOnes;
        if (e.dataOffset != 0) {
            if (e.allOnes)
                failBitmap(context, bitmapName,
                           where + " has both a data offset and the all-ones flag");
            if (e.dataOffset % geometry.clusterSize != 0)
                failBitmap(context, bitmapName, where + " is not cluster aligned");
            if (geometry.fileSize != 0 && e.dataOffset >= geometry.fileSize)
                failBitmap(context, bitmapName, where + " points past end of file");
        }
        out.push_back(e);
    }
    return out;
}

std::vector<uint8_t> serializeQcow2BitmapTable(std::span<const Qcow2BitmapTableEntry> entries) {
    std::vector<uint8_t> out(entries.size() * 8, 0);
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if ((e.dataOffset & ~kQcow2BitmapTableOffsetMask) != 0 || (e.dataOffset && e.allOnes))
            throw BlockError(EINVAL, "bitmap table entry " + std::to_string(i) +
                                         ": invalid data offset " + hex(e.dataOffset) +
                                         (e.allOnes ? " with the all-ones flag" : ""));
        storeBe(out.data() + 8 * i, e.dataOffset | (e.allOnes ? 1 : 0), 8);
    }
    return out;
}

} // namespace e2kvm::block

#include "Qcow2Header.h"

#include "Qcow2Format.h"
#include "Qcow2SnapshotTable.h"
#include "block/BlockError.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace e2kvm::block::qcow2 {

namespace {

std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

[[noreturn]] void bad(const HostFile& f, const std::string& what) {
    throwError(EINVAL, f.path(), what);
}

// As QEMU accepts a table: cluster aligned, and its end representable as an int64.
bool representable(const Qcow2Header& h, uint64_t offset, uint64_t bytes) {
    return (offset & (h.clusterSize() - 1)) == 0 && offset <= uint64_t(INT64_MAX) - bytes;
}

// A table QEMU accepts must also lie inside the file (fileSize 0: not checked, as a check
// wants it). QEMU would read past the end as zeros; we refuse such an image instead.
void checkInFile(const HostFile& f, uint64_t fileSize, uint64_t offset, uint64_t bytes,
                 const char* what) {
    if (fileSize == 0)
        return;
    if (offset >= kMaxHostOffset || offset > fileSize || bytes > fileSize - offset)
        bad(f, std::string(what) + " at " + hex(offset) + " is past end of file");
}

} // namespace

std::vector<FeatureName> standardFeatureNames() {
    return {{0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
            {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
            {2, 0, "bitmaps"},          {2, 1, "raw external data"}};
}

std::string describeFeatures(const Qcow2Header& h, uint8_t type, uint64_t bits) {
    std::string out;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if (!(bits & (1ull << bit)))
            continue;
        if (!out.empty())
            out += ", ";
        auto it =
            std::find_if(h.featureNames.begin(), h.featureNames.end(),
                         [&](const FeatureName& n) { return n.type == type && n.bit == bit; });
        if (it != h.featureNames.end()) {
            out += it->name;
        } else {
            char b[64];
            std::snprintf(b, sizeof b, "Unknown %s feature: %" PRIx64,
                          type == 0   ? "incompatible"
                          : type == 1 ? "compatible"
                                      : "autoclear",
                          uint64_t(1) << bit);
            out += b;
        }
    }
    return out;
}

// QEMU's wording for incompatible features it does not know: the names the image's feature
// table gives them (in table order), then "Unknown incompatible feature: <hex>" for the rest.
std::string describeUnknown(const Qcow2Header& h, uint64_t bits) {
    std::string out;
    for (const FeatureName& n : h.featureNames) {
        if (n.type != 0 || n.bit >= 64 || n.name.empty() || !(bits & (1ull << n.bit)))
            continue;
        if (!out.empty())
            out += ", ";
        out += n.name;
        bits &= ~(1ull << n.bit);
    }
    if (bits) {
        char b[64];
        std::snprintf(b, sizeof b, "Unknown incompatible feature: %" PRIx64, bits);
        if (!out.empty())
            out += ", ";
        out += b;
    }
    return out;
}

Qcow2Header readHeader(const HostFile& f, bool tablesInFile) {
    uint64_t fileSize = f.size();
    uint8_t b[112] = {};
    if (fileSize < kV2HeaderLength)
        bad(f, "Image is not in qcow2 format (file too short for a header)");
    f.read(0, std::span(b, sizeof b));
    if (getBe32(b) != kMagic)
        bad(f, "Image is not in qcow2 format");
    Qcow2Header h;
    h.version = getBe32(b + 4);
    if (h.version != 2 && h.version != 3)
        throwError(ENOTSUP, f.path(), "Unsupported qcow2 version " + std::to_string(h.version));
    h.backingOffset = getBe64(b + 8);
    h.backingSize = getBe32(b + 16);
    h.clusterBits = getBe32(b + 20);
    h.size = getBe64(b + 24);
    h.cryptMethod = getBe32(b + 32);
    h.l1Size = getBe32(b + 36);
    h.l1Offset = getBe64(b + 40);
    h.refTableOffset = getBe64(b + 48);
    h.refTableClusters = getBe32(b + 56);
    h.nbSnapshots = getBe32(b + 60);
    h.snapshotsOffset = getBe64(b + 64);
    if (h.clusterBits < kMinClusterBits || h.clusterBits > kMaxClusterBits)
        bad(f, "Unsupported cluster size: 2^" + std::to_string(h.clusterBits));
    const uint64_t cs = h.clusterSize();
    if (h.version == 2) {
        h.incompatible = h.compatible = h.autoclear = 0;
        h.refcountOrder = 4;
        h.headerLength = kV2HeaderLength;
    } else {
        h.incompatible = getBe64(b + 72);
        h.compatible = getBe64(b + 80);
        h.autoclear = getBe64(b + 88);
        h.refcountOrder = getBe32(b + 96);
        h.headerLength = getBe32(b + 100);
        if (h.headerLength < 104)
            bad(f, "qcow2 header too short (header_length " + std::to_string(h.headerLength) + ")");
        if (h.headerLength > cs)
            bad(f, "qcow2 header exceeds cluster size");
        if (h.headerLength > 104)
            h.compressionType = b[104];
    }
    if (h.refcountOrder > 6)
        bad(f, "Reference count entry width too large; may not exceed 64 bits");
    if (h.cryptMethod != 0)
        throwError(ENOTSUP, f.path(),
                   "encrypted images are not supported (crypt_method " +
                       std::to_string(h.cryptMethod) + ")");
    if (h.size >= (1ull << 63))
        bad(f, "virtual size " + std::to_string(h.size) + " is too large");

    // The whole first cluster: header, extensions, backing file name.
    std::vector<uint8_t> c0(size_t(std::min<uint64_t>(cs, std::max<uint64_t>(fileSize, 112))));
    f.read(0, c0);
    c0.resize(size_t(cs), 0);
    if (h.headerLength > 112)
        h.extraHeader.assign(c0.begin() + 112, c0.begin() + h.headerLength);

    // As QEMU: the offset is checked before anything else in the cluster, the name itself after
    // the tables.
    if (h.backingOffset > cs)
        bad(f, "Invalid backing file offset");

    // Header extensions.
    uint64_t pos = h.version == 2 ? kV2HeaderLength : h.headerLength;
    uint64_t end = h.backingOffset ? h.backingOffset : cs;
    bool seen[6] = {};
    // As QEMU: the area may end without an end marker; an extension (even the end marker) must
    // fit into it.
    while (pos < end) {
        if (pos + 8 > end)
            bad(f, "Header extension too large");
        uint32_t type = getBe32(c0.data() + pos);
        uint32_t len = getBe32(c0.data() + pos + 4);
        pos += 8;
        if (len > end - pos)
            bad(f, "Header extension too large");
        if (type == kExtEnd)
            break;
        const uint8_t* d = c0.data() + pos;
        auto once = [&](int i, const char* name) {
            if (seen[i])
                bad(f, std::string("duplicate ") + name + " header extension");
            seen[i] = true;
        };
        switch (type) {
        case kExtBackingFormat:
            // As QEMU: a later one replaces an earlier one.
            if (len > 1023)
                bad(f, "backing format name too long");
            h.backingFormat.assign(reinterpret_cast<const char*>(d), len);
            h.backingFormat.resize(std::strlen(h.backingFormat.c_str()));
            break;
        case kExtFeatureTable:
            once(1, "feature table");
            // As QEMU reads it: a last, short entry is padded with zeros; an entry without a
            // name ends the table.
            for (uint32_t at = 0; at < len; at += 48) {
                uint8_t e[48] = {};
                std::memcpy(e, d + at, std::min<uint32_t>(48, len - at));
                FeatureName n;
                n.type = e[0];
                n.bit = e[1];
                n.name.assign(reinterpret_cast<const char*>(e + 2), 46);
                n.name.resize(std::strlen(n.name.c_str()));
                if (n.name.empty())
                    break;
                h.featureNames.push_back(std::move(n));
            }
            break;
        case kExtBitmaps:
            once(2, "bitmaps");
            if (len != 24)
                bad(f,
                    "bitmaps header extension has length " + std::to_string(len) + ", expected 24");
            h.bitmapsExtension.emplace(d, d + len);
            break;
        case kExtDataFile: {
            once(3, "external data file");
            std::string name(reinterpret_cast<const char*>(d), len);
            name.resize(std::strlen(name.c_str()));
            h.dataFile = name;
            break;
        }
        default:
            h.otherExtensions.push_back({type, std::vector<uint8_t>(d, d + len)});
            break;
        }
        pos += (uint64_t(len) + 7) & ~uint64_t(7);
    }

    // Incompatible features.
    if (uint64_t unknown = h.incompatible & ~kIncompatKnown)
        throwError(ENOTSUP, f.path(),
                   "Unsupported qcow2 feature(s): " + describeUnknown(h, unknown));
    // External data file. A name without the feature bit is ignored (the data is in this
    // file), as QEMU does; the bit without a name, or the raw flag without the bit, is an error.
    // The bit without a name needs the name from the user (QEMU's data-file option): the
    // open judges that.
    if (h.incompatible & kIncompatDataFile) {
        if (h.dataFile && h.dataFile->empty())
            bad(f, "the external data file name in the header is empty");
    }
    if ((h.autoclear & kAutoclearDataFileRaw) && !(h.incompatible & kIncompatDataFile))
        bad(f, "data-file-raw requires a data file (autoclear bit 1 is set but the external "
               "data file feature bit is clear)");
    // As QEMU: a subcluster (1/32 of a cluster) must be at least 512 bytes.
    if ((h.incompatible & kIncompatExtendedL2) && h.clusterBits < kMinClusterBits + 5)
        throwError(EINVAL, f.path(),
                   "Unsupported subcluster size: " + std::to_string(h.clusterSize() / 32));
    if (h.compressionType != 0 && !(h.incompatible & kIncompatCompression))
        bad(f, "compression type " + std::to_string(h.compressionType) +
                   " is set but the compression type feature bit is clear");
    // As QEMU: the bit says "not zlib", so zlib images (and headers too short to name a
    // compression type) must not set it.
    if ((h.incompatible & kIncompatCompression) && h.headerLength <= 104)
        bad(f, "compression type feature bit set but the header has no compression type field");
    if ((h.incompatible & kIncompatCompression) && h.compressionType == 0)
        bad(f, "the compression type feature bit is set but the compression type is zlib");
    if (h.compressionType > 1)
        bad(f, "Unknown compression type " + std::to_string(h.compressionType));

    // Tables, in QEMU's order and with its words: first that each one is representable (size
    // within QEMU's limit, offset cluster aligned and within int64), then that it fits.
    const uint64_t tablesEnd = tablesInFile ? fileSize : 0;
    if (h.refTableClusters > kMaxRefTableBytes / cs)
        throwError(EFBIG, f.path(), "Reference count table too large");
    if (!representable(h, h.refTableOffset, uint64_t(h.refTableClusters) * cs))
        bad(f, "Reference count table offset invalid");
    // A check reads (and may repair) the snapshot table itself.
    if (tablesInFile) {
        if (h.nbSnapshots > kMaxSnapshots)
            throwError(EFBIG, f.path(), "Snapshot table too large");
        if (!representable(h, h.snapshotsOffset, uint64_t(h.nbSnapshots) * kSnapshotHeaderBytes))
            bad(f, "Snapshot table offset invalid");
    }
    if (uint64_t(h.l1Size) > kMaxL1Bytes / 8)
        throwError(EFBIG, f.path(), "Active L1 table too large");
    if (!representable(h, h.l1Offset, uint64_t(h.l1Size) * 8))
        bad(f, "Active L1 table offset invalid");
    const uint64_t l2Coverage = cs * h.l2Entries();
    const uint64_t l1Needed = (h.size + l2Coverage - 1) / l2Coverage;
    if (l1Needed > kMaxL1Bytes / 8)
        throwError(EFBIG, f.path(), "Image is too big"); // an L1 table would exceed 32 MiB
    if (h.l1Size < l1Needed)
        bad(f, "L1 table is too small");
    if (h.l1Size > 0)
        checkInFile(f, tablesEnd, h.l1Offset, uint64_t(h.l1Size) * 8, "L1 table");
    if (h.refTableClusters > 0)
        checkInFile(f, tablesEnd, h.refTableOffset, uint64_t(h.refTableClusters) * cs,
                    "refcount table");

    if (h.backingOffset != 0) {
        if (h.backingSize > std::min<uint64_t>(kMaxBackingNameLength, cs - h.backingOffset))
            bad(f, "Backing file name too long");
        if (h.backingOffset + h.backingSize > fileSize)
            bad(f, "backing file name at " + hex(h.backingOffset) + " is past end of file");
        h.backingFile.assign(reinterpret_cast<const char*>(c0.data() + h.backingOffset),
                             h.backingSize);
        if (h.backingFile.find('\0') != std::string::npos)
            bad(f, "backing file name contains a NUL byte");
    }
    return h;
}

namespace {
void addExtension(std::vector<uint8_t>& buf, uint32_t type, const uint8_t* data, size_t len) {
    size_t at = buf.size();
    buf.resize(at + 8 + ((len + 7) & ~size_t(7)), 0);
    putBe32(buf.data() + at, type);
    putBe32(buf.data() + at + 4, uint32_t(len));
    if (len)
        std::memcpy(buf.data() + at + 8, data, len);
}
} // namespace

std::vector<uint8_t> serializeHeader(const Qcow2Header& h, const std::string& path) {
    uint32_t hlen =
        h.version == 2 ? kV2HeaderLength : std::max<uint32_t>(h.headerLength, kV3HeaderLength);
    std::vector<uint8_t> buf(hlen, 0);
    uint8_t* b = buf.data();
    putBe32(b, kMagic);
    putBe32(b + 4, h.version);
    putBe32(b + 16, uint32_t(h.backingFile.size()));
    putBe32(b + 20, h.clusterBits);
    putBe64(b + 24, h.size);
    putBe32(b + 32, h.cryptMethod);
    putBe32(b + 36, h.l1Size);
    putBe64(b + 40, h.l1Offset);
    putBe64(b + 48, h.refTableOffset);
    putBe32(b + 56, h.refTableClusters);
    putBe32(b + 60, h.nbSnapshots);
    putBe64(b + 64, h.snapshotsOffset);
    if (h.version >= 3) {
        putBe64(b + 72, h.incompatible);
        putBe64(b + 80, h.compatible);
        putBe64(b + 88, h.autoclear);
        putBe32(b + 96, h.refcountOrder);
        putBe32(b + 100, hlen);
        b[104] = h.compressionType;
        if (!h.extraHeader.empty())
            std::memcpy(b + 112, h.extraHeader.data(),
                        std::min<size_t>(h.extraHeader.size(), hlen - 112));
    }
    if (!h.backingFormat.empty())
        addExtension(buf, kExtBackingFormat,
                     reinterpret_cast<const uint8_t*>(h.backingFormat.data()),
                     h.backingFormat.size());
    if (h.dataFile)
        addExtension(buf, kExtDataFile, reinterpret_cast<const uint8_t*>(h.dataFile->data()),
                     h.dataFile->size());
    for (const auto& e : h.otherExtensions)
        if (e.type == kExtCrypto)
            addExtension(buf, e.type, e.data.data(), e.data.size());
    if (h.version >= 3 && h.clusterSize() > 4096) {
        std::vector<uint8_t> table;
        for (const auto& n : standardFeatureNames()) {
            uint8_t e[48] = {};
            e[0] = n.type;
            e[1] = n.bit;
            std::memcpy(e + 2, n.name.data(), std::min<size_t>(n.name.size(), 46));
            table.insert(table.end(), e, e + 48);
        }
        addExtension(buf, kExtFeatureTable, table.data(), table.size());
    }
    if (h.bitmapsExtension)
        addExtension(buf, kExtBitmaps, h.bitmapsExtension->data(), h.bitmapsExtension->size());
    for (const auto& e : h.otherExtensions)
        if (e.type != kExtCrypto)
            addExtension(buf, e.type, e.data.data(), e.data.size());
    addExtension(buf, kExtEnd, nullptr, 0);
    if (!h.backingFile.empty()) {
        putBe64(buf.data() + 8, buf.size());
        buf.insert(buf.end(), h.backingFile.begin(), h.backingFile.end());
    }
    if (buf.size() > h.clusterSize())
        throwError(EINVAL, path,
                   "qcow2 header, extensions and backing file name do not fit into one cluster");
    return buf;
}

} // namespace e2kvm::block::qcow2

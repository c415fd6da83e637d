#pragma once
// Qcow2Header: the qcow2 header and its extensions, parsed and validated against the file,
// and written back (unknown extensions and trailing header fields preserved).
#include "Qcow2Format.h"
#include "block/HostFile.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::block::qcow2 {

struct FeatureName {
    uint8_t type = 0; // 0 incompatible, 1 compatible, 2 autoclear
    uint8_t bit = 0;
    std::string name;
};

struct HeaderExtension {
    uint32_t type = 0;
    std::vector<uint8_t> data;
};

struct Qcow2Header {
    uint32_t version = 3;
    uint64_t backingOffset = 0;
    uint32_t backingSize = 0;
    uint32_t clusterBits = 16;
    uint64_t size = 0;
    uint32_t cryptMethod = 0;
    uint32_t l1Size = 0;
    uint64_t l1Offset = 0;
    uint64_t refTableOffset = 0;
    uint32_t refTableClusters = 0;
    uint32_t nbSnapshots = 0;
    uint64_t snapshotsOffset = 0;
    uint64_t incompatible = 0;
    uint64_t compatible = 0;
    uint64_t autoclear = 0;
    uint32_t refcountOrder = 4;
    uint32_t headerLength = 112;
    uint8_t compressionType = 0;
    std::vector<uint8_t> extraHeader; // header bytes past 112 we do not know, kept as they are

    std::string backingFile;
    std::string backingFormat;
    std::optional<std::string> dataFile;
    std::vector<FeatureName> featureNames;
    std::optional<std::vector<uint8_t>> bitmapsExtension;
    std::vector<HeaderExtension> otherExtensions; // unknown (and crypto) extensions, in order

    uint64_t clusterSize() const { return 1ull << clusterBits; }
    uint32_t refcountBits() const { return 1u << refcountOrder; }
    // Extended L2 entries (incompatible bit 4): each L2 entry is followed by a 64-bit
    // subcluster bitmap, and the standard entry's zero flag is unused.
    bool extendedL2() const { return (incompatible & kIncompatExtendedL2) != 0; }
    uint64_t l2EntryBytes() const { return extendedL2() ? 16 : 8; }
    uint64_t l2Entries() const { return clusterSize() / l2EntryBytes(); }
    bool zeroFlagValid() const { return version >= 3; }
    // Guest data lives in an external data file (incompatible bit 2), not in this file.
    bool hasDataFile() const { return (incompatible & kIncompatDataFile) != 0; }
    // ... and that data file is a valid raw image of the disk (autoclear bit 1).
    bool dataFileRaw() const { return (autoclear & kAutoclearDataFileRaw) != 0; }
    // What an L2 entry of this image means.
    ClusterType typeOf(uint64_t entry) const {
        return clusterType(entry, zeroFlagValid() && !extendedL2(), hasDataFile());
    }
};

// Reads cluster 0 of `file` and validates every field against the file size. Throws a
// BlockError naming the file and the bad field. `tablesInFile` false: the L1, refcount and
// snapshot tables need not lie inside the file (a check reports that as a corruption, as QEMU
// does; opening the image refuses it).
Qcow2Header readHeader(const HostFile& file, bool tablesInFile = true);

// "name" from the feature table, or "Unknown incompatible feature: <hex>".
std::string describeFeatures(const Qcow2Header& h, uint8_t type, uint64_t bits);
// Incompatible feature `bits` worded as QEMU refuses them on open: their names from the feature
// table, then "Unknown incompatible feature: <hex of all the unnamed bits>".
std::string describeUnknown(const Qcow2Header& h, uint64_t bits);

// Serializes header + extensions + backing name (unpadded; callers zero the rest of cluster 0).
// Throws if it does not fit into one cluster.
std::vector<uint8_t> serializeHeader(const Qcow2Header& h, const std::string& path);

// The feature-name table QEMU writes.
std::vector<FeatureName> standardFeatureNames();

} // namespace e2kvm::block::qcow2

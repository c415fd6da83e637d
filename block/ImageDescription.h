#pragma once
// ImageDescription: what `info` shows about one image (one layer of a chain), filled by the
// format driver. Fields that a format does not have stay empty.
#include "InternalSnapshots.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::block {

struct BitmapDescription {
    std::string name;
    uint64_t granularity = 0;
    std::vector<std::string> flags; // "in-use", "auto" — as qemu-img lists them
};

struct Qcow2Description {
    std::string compat;            // "1.1" (v3) or "0.10" (v2)
    std::string compressionType;   // "zlib" / "zstd"
    bool lazyRefcounts = false;
    uint32_t refcountBits = 16;
    bool corrupt = false;
    bool extendedL2 = false;
    std::optional<std::string> dataFile; // external data file name
    bool externalDataFile = false;       // the external data file feature bit is set
    bool dataFileRaw = false;
    std::vector<BitmapDescription> bitmaps;
};

struct ImageDescription {
    std::string backingFilename;       // as stored in the image
    std::string fullBackingFilename;   // resolved path
    std::string backingFormat;         // from the backing-format extension, if any
    bool dirtyFlag = false;
    std::vector<InternalSnapshot> snapshots; // internal snapshots, in table order
    std::optional<Qcow2Description> qcow2;
};

} // namespace e2kvm::block

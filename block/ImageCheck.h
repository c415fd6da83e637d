#pragma once
// Consistency check (and repair) of an image's metadata, as `qemu-img check` does it.
#include "BlockError.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::block {

enum class RepairMode { None, Leaks, All };

// The image cannot even be opened for the check (a header, header extension or bitmap
// directory that opening it refuses); qemu-img reports it as "Could not open 'FILE': MESSAGE".
// The message carries no file name.
class ImageOpenError : public BlockError {
public:
    using BlockError::BlockError;
};

struct CheckResult {
    uint64_t corruptions = 0;
    uint64_t leaks = 0;
    uint64_t checkErrors = 0; // the check itself failed to read something
    // The check stopped early with this errno (qemu-img: "Check failed: <strerror>", no
    // report); 0: it ran to the end (with check errors: the report, then "Check failed").
    int abortErrno = 0;
    uint64_t corruptionsFixed = 0;
    uint64_t leaksFixed = 0;
    // The repair marked the image corrupt (QEMU's driver is detached then): it serves no more
    // requests, so the double check after the repair fails (recheckErrno).
    bool detached = false;
    // The double check after a repair could not run (qemu-img: the report of the repair, then
    // "Check failed: <strerror>").
    int recheckErrno = 0;
    uint64_t imageEndOffset = 0;
    uint64_t totalClusters = 0;
    uint64_t allocatedClusters = 0;
    uint64_t fragmentedClusters = 0;
    uint64_t compressedClusters = 0;
    // One line per finding, worded as qemu-img prints them on stderr
    // ("Leaked cluster 9 refcount=1 reference=0", "ERROR cluster 5 refcount=0 reference=1").
    // A line that starts with kProgramNamePrefix is one qemu-img prints after its own name
    // ("qemu-img: ERROR snapshot table too large"); the program replaces the marker.
    std::vector<std::string> messages;
    static constexpr char kProgramNamePrefix = '\x01';
};

// Checks the image at `path` (format "" = probe). Throws BlockError(ENOTSUP) for formats
// without metadata to check ("This image format does not support checks"), ImageOpenError for
// an image that cannot be opened. Takes QEMU's image locks as qemu-img check does (a repair
// writes); forceShare (-U, without repair only) reads an image another process holds.
CheckResult checkImage(const std::string& path, const std::string& format, RepairMode repair,
                       bool forceShare = false);

} // namespace e2kvm::block

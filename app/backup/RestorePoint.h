#pragma once
// RestorePoint: one point of a backup directory as its manifest records it: which qcow2 file
// holds it, whether it is full or incremental, when it was taken, of what, how much it stores
// and its checksum. Also its JSON form (the manifest and `e2kvm-backup list --output=json`).
#include "app/json/Json.h"

#include <cstdint>
#include <string>

namespace e2kvm::backup {

enum class PointType { Full, Incremental };

struct RestorePoint {
    uint64_t number = 0;
    std::string file; // relative to the backup directory
    PointType type = PointType::Full;
    std::string time;          // when the point in time was taken, ISO 8601 UTC
    std::string source;        // what was backed up ("qmp unix:/run/vm.sock drive0")
    std::string baseBitmap;    // incremental: the bitmap that chose the changed data
    std::string checkpoint;    // the bitmap recording changes after this point ("" if none)
    uint64_t virtualSize = 0;  // disk size
    uint64_t storedBytes = 0;  // size of the point's file
    uint64_t copiedBytes = 0;  // guest bytes this point holds (data and zeroes written)
    uint64_t changedBytes = 0; // incremental: bytes the bitmap marked; full: disk size
    std::string compression;   // "" (clusters stored as they are), "zlib" or "zstd"
    std::string sha256;        // of the whole file, lower-case hex
    bool verified = false;     // the last verify found it intact (and nothing changed since)
    std::string verifiedTime;  // when, ISO 8601 UTC ("" if never)
};

const char* pointTypeName(PointType t); // "full" / "inc"

json::Json toJson(const RestorePoint& p);
// Throws std::runtime_error naming the missing or malformed member.
RestorePoint restorePointFromJson(const json::Json& j);

// The current time as ISO 8601 UTC with seconds ("2026-12-06T12:30:05Z").
std::string utcNow();

} // namespace e2kvm::backup

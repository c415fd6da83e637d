#pragma once
// Qcow2SnapshotTable: the on-disk snapshot table of a qcow2 image, entry by entry as the
// format describes it (fixed part, extra data, id, name; each entry 8-byte aligned), read with
// QEMU's limits and written back with the extra data QEMU writes (VM state size, disk size,
// icount) and any extra data we do not know kept as it was.
#include "Qcow2Header.h"
#include "block/HostFile.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::block::qcow2 {

inline constexpr uint32_t kSnapshotHeaderBytes = 40;
inline constexpr uint32_t kSnapshotKnownExtraBytes = 24; // vm_state_size_large, disk_size, icount
inline constexpr uint32_t kMaxSnapshotExtraBytes = 1024;

struct Qcow2SnapshotEntry {
    uint64_t l1Offset = 0;
    uint32_t l1Size = 0;
    std::string id;
    std::string name;
    uint32_t dateSec = 0;
    uint32_t dateNsec = 0;
    uint64_t vmClockNsec = 0;
    uint64_t vmStateSize = 0;
    uint64_t diskSize = 0;
    uint64_t icount = ~0ull;           // all ones: none recorded
    uint32_t extraDataSize = 0;        // as stored (at least 24 once rewritten)
    std::vector<uint8_t> unknownExtra; // extra data past the 24 bytes we know
};

// Reads the entry at `pos` (8-byte aligned) without judging it; `*end` receives the offset
// just past it. Extra data beyond 1024 bytes is not kept (`*storedExtra` receives the size the
// entry claims). As QEMU, bytes past the end of the file read as zeros.
Qcow2SnapshotEntry readSnapshotEntry(const HostFile& file, uint64_t pos, uint64_t defaultDiskSize,
                                     uint64_t* end, uint32_t* storedExtra);

// Reads and validates the table the header points to (bounded as QEMU bounds it). Entries
// whose extra data lacks the disk size get `defaultDiskSize`. Throws BlockError naming the
// file and the entry. A snapshot's L1 table is not judged here: as QEMU, only when the
// snapshot is used (validateSnapshotL1).

std::vector<Qcow2SnapshotEntry> readSnapshotTable(const HostFile& file, const Qcow2Header& h,
                                                  uint64_t defaultDiskSize,
                                                  uint64_t* tableBytes = nullptr);

// QEMU's check of a snapshot's L1 table before the snapshot is used (applied, read, deleted,
// its clusters expanded or compared against): BlockError(EFBIG, "Snapshot L1 table too large")
// or BlockError(EINVAL, "Snapshot L1 table offset invalid"), in QEMU's words, without the file.
void validateSnapshotL1(const Qcow2SnapshotEntry& entry, uint64_t clusterSize);

// The table as QEMU writes it (known extra data always present). Throws BlockError(EFBIG) if
// it would exceed the format's 64 MiB limit.
std::vector<uint8_t> serializeSnapshotTable(const std::vector<Qcow2SnapshotEntry>& entries);

} // namespace e2kvm::block::qcow2

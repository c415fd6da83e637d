#pragma once
// InternalSnapshots: the snapshots a format keeps inside the image itself (qcow2's snapshot
// table: a copy of the L1 table whose clusters are shared with the active disk). What
// `qemu-img snapshot -l/-c/-a/-d` and `info`'s "Snapshot list" work on.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::block {

struct InternalSnapshot {
    std::string id;   // "1", "2", ... (unique)
    std::string name; // the tag; may repeat
    uint64_t vmStateSize = 0;
    uint32_t dateSec = 0;
    uint32_t dateNsec = 0;
    uint64_t vmClockNsec = 0;
    std::optional<uint64_t> icount; // absent: recorded without an instruction count
    uint64_t diskSize = 0;          // the virtual disk size when it was taken
};

class InternalSnapshots {
public:
    virtual ~InternalSnapshots() = default;
    virtual std::vector<InternalSnapshot> listSnapshots() const = 0;
    // Records the disk as it is now under the next free id, with the name, date, VM clock,
    // VM state size and icount of `want`; returns the snapshot as recorded.
    virtual InternalSnapshot createSnapshot(const InternalSnapshot& want) = 0;
    // Makes the disk what it was when the snapshot (found by id, else by name) was taken.
    // Throws BlockError(ENOENT) if there is none.
    virtual void applySnapshot(const std::string& idOrName) = 0;
    // Shows the disk as the snapshot (with this id if given, and this name if given) recorded
    // it, from now on and only in this open image, which must be read-only (qemu-nbd -l,
    // qemu-img convert -l); the size stays the image's. Throws BlockError(EINVAL) on a
    // writable image, ENOENT if there is no such snapshot.
    virtual void loadSnapshotReadOnly(const std::optional<std::string>& id,
                                      const std::optional<std::string>& name) = 0;
    // Removes the first snapshot with this id (if given) and this name (if given).
    virtual void deleteSnapshot(const std::optional<std::string>& id,
                                const std::optional<std::string>& name) = 0;
};

} // namespace e2kvm::block

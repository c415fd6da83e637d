#pragma once
// VM snapshots as QEMU 7.2's HMP savevm, loadvm, delvm and `info snapshots` make them: an
// internal snapshot (qcow2) of every writable root image taken at the same moment, with the
// machine's saved state in the VM state area of the first image that can take snapshots.
// Every image is reached through its node in the BlockNodeTable (dirty bitmaps and NBD exports
// see the same image). The HMP functions return what the monitor prints ("" for nothing); the
// QMP snapshot jobs (snapshot-save, -load, -delete) run the same operations over a list of
// nodes.
#include "app/qmp/QmpContext.h"

#include <optional>
#include <string>
#include <vector>

namespace e2kvm::qmp {

// Which images an operation covers: without `devices` every writable image that QEMU's
// savevm covers (and the first of them that keeps snapshots holds the VM state); with them,
// exactly those nodes, and the VM state in the node named `vmstate` (else the first listed
// node that keeps snapshots).
struct VmSnapshotScope {
    std::optional<std::vector<std::string>> devices;
    std::optional<std::string> vmstate;
};

// The operations; each throws std::runtime_error with QEMU's message. `name` absent: QEMU's
// "vm-YYYYMMDDHHMMSS" (local time). `overwrite`: an older snapshot of that name is replaced
// (HMP), else its presence on every device is an error (QMP).
void saveVmSnapshot(QmpContext& ctx, const std::optional<std::string>& name, bool overwrite,
                    const VmSnapshotScope& scope);
// The machine stops, the disks revert and the state loads; a machine that was running runs
// on from it. After a failure the machine stays stopped, as QEMU's does.
void loadVmSnapshot(QmpContext& ctx, const std::string& name, const VmSnapshotScope& scope);
// The snapshot of that name goes from every covered image that has it.
void deleteVmSnapshot(QmpContext& ctx, const std::string& name, const VmSnapshotScope& scope);

// savevm [NAME]: an older snapshot of the same name is replaced; without a name QEMU's
// "vm-YYYYMMDDHHMMSS" (local time) is used.
std::string hmpSaveVm(QmpContext& ctx, const std::optional<std::string>& name);
// loadvm NAME: the machine stops, the disks revert and the state loads; a machine that was
// running runs on from it. After a failure the machine stays stopped, as QEMU's does.
std::string hmpLoadVm(QmpContext& ctx, const std::string& name);
// delvm NAME: the snapshot of that name goes from every image that has it.
std::string hmpDelVm(QmpContext& ctx, const std::string& name);
// info snapshots: the snapshots present on all disks, then those only some disks have.
std::string hmpInfoSnapshots(QmpContext& ctx);

} // namespace e2kvm::qmp

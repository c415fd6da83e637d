#pragma once
// VM snapshots as QEMU 7.2's HMP savevm, loadvm, delvm and `info snapshots` make them: an
// internal snapshot (qcow2) of every writable root image taken at the same moment, with the
// machine's saved state in the VM state area of the first image that can take snapshots.
// Every image is reached through its node in the BlockNodeTable (dirty bitmaps and NBD exports
// see the same image). Each function returns what the monitor prints ("" for nothing).
#include "app/qmp/QmpContext.h"

#include <optional>
#include <string>

namespace e2kvm::qmp {

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

#pragma once
// DriveCommit: HMP `commit DEVICE` (QEMU's bdrv_commit): what the drive's active layer stores
// is copied into its backing file, then the active layer is emptied (every cluster reads from
// the backing file again); the chain and the headers stay as they are.
#include "app/qmp/QmpContext.h"

#include <string>

namespace e2kvm::qmp {

// Commits the active layer of drive `device`. Returns 0 or QEMU's errno (ENOTSUP without a
// backing file, EBUSY while a job uses the drive's node, EIO/ENOSPC... from the copy).
int commitDriveLayer(QmpContext& ctx, const vm::BlockNode& node);

} // namespace e2kvm::qmp

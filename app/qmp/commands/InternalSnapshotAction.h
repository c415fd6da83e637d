#pragma once
// InternalSnapshotAction: blockdev-snapshot-internal-sync as an action of a transaction
// (commands/InternalSnapshotCommands.cpp): the snapshot is recorded in the image at once;
// what is returned deletes it again when a later action of the transaction fails.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"

#include <functional>

namespace e2kvm::qmp {

// Throws QmpError with QEMU 7.2's wording (nothing recorded).
std::function<void()> internalSnapshotAction(QmpContext& ctx, QmpArgs& data);

} // namespace e2kvm::qmp

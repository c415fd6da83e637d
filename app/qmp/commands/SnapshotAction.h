#pragma once
// SnapshotAction: blockdev-snapshot-sync and blockdev-snapshot as actions of a transaction
// (commands/SnapshotCommands.cpp): done at once, with what takes each back when a later
// action of the transaction fails.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"

#include <functional>
#include <string>
#include <vector>

namespace e2kvm::qmp {

// `type`: "blockdev-snapshot-sync" or "blockdev-snapshot". Throws QmpError (nothing done).
// With `commitSteps`, what must wait until every action of the transaction is done (the old
// active layer becoming read-only) is added there instead of done at once.
std::function<void()> snapshotAction(QmpContext& ctx, const std::string& type, QmpArgs& data,
                                     std::vector<std::function<void()>>* commitSteps = nullptr);

} // namespace e2kvm::qmp

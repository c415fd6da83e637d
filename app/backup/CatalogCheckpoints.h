#pragma once
// Checkpoint bitmaps of a backup directory kept in an image's BitmapCatalog (an image file, or
// a disk of the VM in this process): whether the previous point's bitmap can be used, folding
// the leftovers of interrupted runs into it, and settling them once a point is stored or failed.
// QmpVmSource does the same over QMP.
#include "app/backup/BackupSource.h"
#include "block/bitmap/BitmapCatalog.h"

#include <optional>
#include <string>
#include <vector>

namespace e2kvm::backup {

// The number in a checkpoint bitmap name `prefix` + number.
std::optional<uint64_t> checkpointNumber(const std::string& prefix, const std::string& name);

// Checks plan.base for an incremental plan (telling `note` why it cannot be used), then returns
// the actions that fold leftovers (checkpoints newer than base) into a usable base and remove
// every other checkpoint of the directory. `label` names the disk in notes. `usable` says
// whether base can be used.
std::vector<block::BitmapAction> prepareCheckpoints(const block::BitmapCatalog& catalog,
                                                    const SourcePlan& plan,
                                                    const std::string& label, const NoteSink& note,
                                                    bool& usable);

// The actions after a point: stored: remove every checkpoint of the directory but plan.next;
// failed: fold plan.next back into base (re-enabling it if it was frozen) and remove it.
std::vector<block::BitmapAction> settleCheckpoints(const block::BitmapCatalog& catalog,
                                                   const SourcePlan& plan, bool stored,
                                                   bool nextAdded, bool baseFrozen);

} // namespace e2kvm::backup

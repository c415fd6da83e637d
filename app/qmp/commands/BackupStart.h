#pragma once
// BackupStart: blockdev-backup as a command and as a transaction action. Backups are prepared
// (arguments checked, jobs built) first; then, with the changes of every source paused, the
// transaction's other actions are applied and each job takes its point in time, so that the
// bitmaps and the points in time of one transaction agree; then the jobs start.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "block/job/BackupJob.h"

#include <functional>
#include <memory>
#include <vector>

namespace e2kvm::qmp {

struct PreparedBackup {
    std::shared_ptr<block::BackupJob> job;
    vm::JobUse use;
    // filter-node-name: the job's copy-before-write filter is shown as this node while it runs.
    std::string filterNodeName;
};

// Checks a BlockdevBackup argument set with QEMU's messages (throws QmpError).
PreparedBackup prepareBackup(QmpContext& ctx, QmpArgs& a);
// A DriveBackup argument set (`prefix`: its path in a transaction): the target image is created
// or opened as a node first, which closes when the job ends (throws QmpError).
PreparedBackup prepareDriveBackup(QmpContext& ctx, const Json* args, const std::string& prefix);
// Pauses the sources, runs `whilePaused` (may throw: then nothing starts), takes the points in
// time and starts the jobs. `grouped`: the jobs complete as one (a transaction's completion-mode
// "grouped": when one fails or is cancelled, the others are cancelled).
void startBackups(QmpContext& ctx, std::vector<PreparedBackup>& backups,
                  const std::function<void()>& whilePaused, bool grouped = false);

} // namespace e2kvm::qmp

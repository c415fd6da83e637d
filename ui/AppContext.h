#pragma once
// AppContext: the process-wide services every window and panel of the GUI shares: the open
// images (one BlockNodeTable, also used by the running VM and by QMP), the NBD export service,
// the long-job runner, the log, the block jobs (one JobTable, shared with QMP) and the
// point-in-time exports of running disks. Created once in app/e2kvm/main.cpp, outlives all
// widgets.
namespace e2kvm::vm {
class BlockNodeTable;
class JobTable;
class NbdExportService;
class PointInTimeExports;
} // namespace e2kvm::vm

namespace e2kvm::ui {

class JobRunner; // ui/jobs/JobRunner.h: runs long jobs on worker threads with one progress object
class LogModel;  // ui/log/LogModel.h: the application log shown in the log view

struct AppContext {
    vm::BlockNodeTable* nodes = nullptr;
    vm::NbdExportService* exports = nullptr;
    JobRunner* jobs = nullptr;
    LogModel* log = nullptr;
    vm::JobTable* blockJobs = nullptr;             // block jobs (backups), QMP's too
    vm::PointInTimeExports* pointInTime = nullptr; // null: exports are never points in time
};

} // namespace e2kvm::ui

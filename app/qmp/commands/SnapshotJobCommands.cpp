// QMP snapshot-save, snapshot-load and snapshot-delete (QEMU 6.0+): VM snapshots over a list of
// nodes, each run as a job of type "snapshot-save", "snapshot-load" or "snapshot-delete" that
// the client dismisses (QEMU's life cycle: created, running, waiting, pending, concluded; a
// failure goes through aborting and is the job's error). The work is VmSnapshots', which
// HMP's savevm, loadvm and delvm share.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/VmSnapshots.h"
#include "block/job/Job.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>

namespace e2kvm::qmp {

namespace {

class VmSnapshotJob : public block::Job {
public:
    VmSnapshotJob(std::string id, std::string type, std::function<void()> work)
        : Job(std::move(id), std::move(type), true, false), work_(std::move(work)) {}
    ~VmSnapshotJob() override { joinThread(); }

protected:
    bool drainsAtStart() const override { return false; }
    void run() override {
        setTotal(1);
        if (!checkpoint())
            return;
        // As QEMU's, the one unit of progress is done whether the operation worked or not.
        std::string error;
        try {
            work_();
        } catch (const std::exception& e) {
            error = e.what();
        }
        addProgress(1);
        if (!error.empty())
            throw std::runtime_error(error);
    }

private:
    std::function<void()> work_;
};

std::vector<std::string> deviceList(QmpArgs& a) {
    const Json& list = a.require("devices");
    if (!list.isArray())
        a.typeError("devices", "array");
    std::vector<std::string> out;
    for (const Json& item : list.asArray()) {
        if (!item.isString())
            throw QmpError("Invalid parameter type for '" + a.path("devices") + "[" +
                           std::to_string(out.size()) + "]', expected: string");
        out.push_back(item.asString());
    }
    return out;
}

// Starts the job and, as QEMU runs the operation in its main loop at once, waits until it has
// concluded: the next command sees the images and the machine as the operation left them.
Json startSnapshotJob(QmpContext& ctx, const std::string& jobId, const char* type,
                      std::function<void()> work) {
    try {
        ctx.jobs.checkIdFree(jobId);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    // Concluded once its concluded event went out (the table's listeners run in the order they
    // were added: the context's, which emits the event, before this one).
    struct Concluded {
        std::mutex mutex;
        std::condition_variable changed;
        bool done = false;
    };
    auto concluded = std::make_shared<Concluded>();
    const int listener = ctx.jobs.addListener([concluded, jobId](const block::JobEvent& e) {
        if (e.kind != block::JobEvent::StatusChange || e.info.id != jobId ||
            e.info.status != block::JobStatus::Concluded)
            return;
        std::lock_guard lock(concluded->mutex);
        concluded->done = true;
        concluded->changed.notify_all();
    });
    auto job = std::make_shared<VmSnapshotJob>(jobId, type, std::move(work));
    ctx.jobs.start(job, {});
    {
        std::unique_lock lock(concluded->mutex);
        concluded->changed.wait_for(lock, std::chrono::minutes(10),
                                    [&] { return concluded->done; });
    }
    ctx.jobs.removeListener(listener);
    return Json::object();
}

// The arguments the three commands share, read in their schema's order (job-id, tag, vmstate
// for save and load, devices).
struct SnapshotJobArgs {
    std::string jobId, tag;
    VmSnapshotScope scope;
};

SnapshotJobArgs snapshotJobArgs(const Json* args, bool withVmstate) {
    QmpArgs a(args);
    SnapshotJobArgs out;
    out.jobId = a.str("job-id");
    out.tag = a.str("tag");
    if (withVmstate)
        out.scope.vmstate = a.str("vmstate");
    out.scope.devices = deviceList(a);
    a.finish();
    return out;
}

Json snapshotSave(QmpContext& ctx, const Json* args) {
    SnapshotJobArgs a = snapshotJobArgs(args, true);
    return startSnapshotJob(ctx, a.jobId, "snapshot-save",
                            [&ctx, a] { saveVmSnapshot(ctx, a.tag, false, a.scope); });
}

Json snapshotLoad(QmpContext& ctx, const Json* args) {
    SnapshotJobArgs a = snapshotJobArgs(args, true);
    return startSnapshotJob(ctx, a.jobId, "snapshot-load",
                            [&ctx, a] { loadVmSnapshot(ctx, a.tag, a.scope); });
}

Json snapshotDelete(QmpContext& ctx, const Json* args) {
    SnapshotJobArgs a = snapshotJobArgs(args, false);
    return startSnapshotJob(ctx, a.jobId, "snapshot-delete",
                            [&ctx, a] { deleteVmSnapshot(ctx, a.tag, a.scope); });
}

} // namespace

void registerSnapshotJobCommands(QmpContext& ctx) {
    ctx.addCommand({"snapshot-save", snapshotSave, true});
    ctx.addCommand({"snapshot-load", snapshotLoad, true});
    ctx.addCommand({"snapshot-delete", snapshotDelete});
}

} // namespace e2kvm::qmp

// QMP block job commands: blockdev-backup, query-block-jobs, query-jobs, block-job-cancel,
// -pause, -resume, -set-speed, -complete, job-cancel, -pause, -resume, -complete, -finalize,
// -dismiss, and the job events (JOB_STATUS_CHANGE, BLOCK_JOB_COMPLETED, _CANCELLED, _ERROR,
// _PENDING, _READY), in QEMU 7.2's
// names and wording.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/BackupStart.h"
#include "app/qmp/commands/JobTarget.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/vmcore/QemuId.h"
#include "block/filter/CopyBeforeWriteFilter.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <thread>

namespace e2kvm::qmp {

namespace {

using block::JobEvent;
using block::JobInfo;

// Whether jobs of this type are block jobs (query-block-jobs, BLOCK_JOB_* events): not
// blockdev-create's nor the VM snapshot jobs.
bool isBlockJobType(const std::string& type) {
    return type != "create" && type.rfind("snapshot-", 0) != 0;
}

// The drive id of a node, if the machine has a drive on it.
std::optional<std::string> driveOf(QmpContext& ctx, const std::string& name) {
    if (!ctx.machine)
        return std::nullopt;
    auto node = ctx.nodes.find(name);
    for (const QmpMachineDisk& d : ctx.machine->disks())
        if (d.device == name || (node && d.nodeName == node->name))
            return d.device;
    return std::nullopt;
}

Json blockJobInfo(const JobInfo& i) {
    Json j = Json::object(
        {{"auto-finalize", i.autoFinalize},
         {"io-status", i.ioStatus},
         {"device", i.id},
         {"auto-dismiss", i.autoDismiss},
         {"busy", i.busy},
         {"len", i.total},
         {"offset", i.current},
         {"status", block::jobStatusName(i.status)},
         {"paused", i.paused},
         {"speed", i.speed},
         {"ready", i.status == block::JobStatus::Ready || i.status == block::JobStatus::Standby},
         {"type", i.type}});
    if (i.error)
        j.set("error", *i.error);
    return j;
}

Json jobInfo(const JobInfo& i) {
    Json j = Json::object({{"current-progress", i.current},
                           {"status", block::jobStatusName(i.status)},
                           {"total-progress", i.total},
                           {"type", i.type},
                           {"id", i.id}});
    if (i.error)
        j.set("error", *i.error);
    return j;
}

Json endEvent(const JobInfo& i, bool withError) {
    Json j = Json::object({{"device", i.id},
                           {"len", i.total},
                           {"offset", i.current},
                           {"speed", i.speed},
                           {"type", i.type}});
    if (withError && i.error)
        j.set("error", *i.error);
    return j;
}

// block-job-* look jobs up by "device" (the job id) and answer DeviceNotActive; job-* by "id".
std::shared_ptr<block::Job> blockJob(QmpContext& ctx, const std::string& id) {
    auto job = ctx.jobs.find(id);
    if (!job)
        throw QmpError("Block job '" + id + "' not found", "DeviceNotActive");
    return job;
}

std::shared_ptr<block::Job> plainJob(QmpContext& ctx, const std::string& id) {
    auto job = ctx.jobs.find(id);
    if (!job)
        throw QmpError("Job not found");
    return job;
}

template <typename F> Json runVerb(F&& f) {
    try {
        f();
    } catch (const QmpError&) {
        throw;
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return Json::object();
}

// The jobs, once none is between two states that QEMU passes through within one step of its
// main loop (waiting, pending or concluded on the way to the next without a client's word or
// after job-finalize, aborting): a client that saw BLOCK_JOB_COMPLETED finds an auto-dismissed job
// gone, as in QEMU.
std::vector<std::shared_ptr<block::Job>> settledJobs(QmpContext& ctx) {
    auto transient = [](const JobInfo& i) {
        using S = block::JobStatus;
        // (A paused job a client resumed is on its way back to running.)
        return i.status == S::Waiting || i.status == S::Aborting ||
               (i.status == S::Pending && (i.autoFinalize || i.finalizing)) ||
               (i.status == S::Concluded && i.autoDismiss) || (i.status == S::Paused && !i.paused);
    };
    for (int tries = 0;; ++tries) {
        auto jobs = ctx.jobs.list();
        bool settled = std::none_of(jobs.begin(), jobs.end(),
                                    [&](const auto& j) { return transient(j->info()); });
        if (settled || tries >= 2000) // at most about 2 s
            return jobs;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// query-jobs and query-block-jobs list the newest job first, as QEMU's (which keeps its jobs in
// a list it adds to at the head).
std::vector<std::shared_ptr<block::Job>>
newestFirst(std::vector<std::shared_ptr<block::Job>> jobs) {
    std::reverse(jobs.begin(), jobs.end());
    return jobs;
}

Json queryBlockJobs(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json list = Json::array();
    for (const auto& job : newestFirst(settledJobs(ctx)))
        if (isBlockJobType(job->info().type))
            list.push(blockJobInfo(job->info()));
    return list;
}

Json queryJobs(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json list = Json::array();
    for (const auto& job : newestFirst(settledJobs(ctx)))
        list.push(jobInfo(job->info()));
    return list;
}

Json blockdevBackup(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::vector<PreparedBackup> backups;
    backups.push_back(prepareBackup(ctx, a));
    startBackups(ctx, backups, [] {});
    return Json::object();
}

block::BackupSync parseSync(const std::string& s) {
    if (s == "full")
        return block::BackupSync::Full;
    if (s == "top")
        return block::BackupSync::Top;
    if (s == "none")
        return block::BackupSync::None;
    if (s == "incremental")
        return block::BackupSync::Incremental;
    return block::BackupSync::Bitmap;
}

} // namespace

namespace {

// The role a node's child has for it, as QEMU names it in permission errors.
std::string childRole(const vm::BlockNode& parent) {
    return parent.format == "blkdebug" ? "image" : "file";
}

// A backup's copy-before-write filter unshares "write" on the nodes under its source (QEMU
// propagates it down the filter and file children): a node there that another node writes
// through blkdebug's take-child-perms is a permission conflict.
void checkWriteUnsharable(QmpContext& ctx, const vm::BlockNode& owner, int depth = 0) {
    const std::string parentPrefix = "node '";
    for (const std::string& childName : owner.children) {
        for (const std::string& user : ctx.nodes.users(childName)) {
            if (user.rfind(parentPrefix, 0) != 0 || user.back() != '\'')
                continue;
            std::string other =
                user.substr(parentPrefix.size(), user.size() - parentPrefix.size() - 1);
            auto perms = ctx.takenChildPermissions.find(other);
            if (other == owner.name || perms == ctx.takenChildPermissions.end() ||
                std::find(perms->second.begin(), perms->second.end(), "write") ==
                    perms->second.end())
                continue;
            auto otherNode = ctx.nodes.find(other);
            if (!otherNode)
                continue;
            throw QmpError("Permission conflict on node '" + childName +
                           "': permissions 'write' are both required by node '" + other +
                           "' (uses node '" + childName + "' as '" + childRole(*otherNode) +
                           "' child) and unshared by node '" + owner.name + "' (uses node '" +
                           childName + "' as '" + childRole(owner) + "' child).");
        }
        if (auto child = ctx.nodes.find(childName); child && depth < 100)
            checkWriteUnsharable(ctx, *child, depth + 1);
    }
}

} // namespace

PreparedBackup prepareBackup(QmpContext& ctx, QmpArgs& a) {
    std::optional<std::string> jobId = a.optStr("job-id");
    std::string device = a.str("device");
    std::string targetName = a.str("target");
    std::string syncName =
        a.optEnum("sync", {"top", "full", "none", "incremental", "bitmap"}).value_or("");
    if (syncName.empty())
        a.require("sync");
    std::optional<uint64_t> speed = a.optUInt("speed");
    std::optional<std::string> bitmapName = a.optStr("bitmap");
    std::optional<std::string> bitmapMode =
        a.optEnum("bitmap-mode", {"on-success", "never", "always"});
    bool compress = a.optBool("compress", false);
    block::ErrorPolicy onError[2] = {block::ErrorPolicy::Report, block::ErrorPolicy::Report};
    for (int k = 0; k < 2; ++k) {
        auto policy = a.optEnum(k == 0 ? "on-source-error" : "on-target-error",
                                {"report", "ignore", "enospc", "stop", "auto"});
        onError[k] = errorPolicyFromName(policy.value_or("report"));
    }
    bool autoFinalize = a.optBool("auto-finalize", true);
    bool autoDismiss = a.optBool("auto-dismiss", true);
    std::optional<std::string> filterNodeName = a.optStr("filter-node-name");
    if (auto perf = a.optObject("x-perf")) {
        perf->optBool("use-copy-range", false);
        perf->optInt("max-workers");
        perf->optInt("max-chunk");
        perf->finish();
    }
    a.finish();

    auto source = lookupNode(ctx, device);
    auto target = lookupNode(ctx, targetName);
    if (compress && !target->image->supportsCompression())
        throw QmpError("Compression is not supported for this drive " +
                       driveOf(ctx, targetName).value_or(""));
    // As in QEMU, a node that a job writes to (or reads from) cannot be another job's target;
    // one source may feed several jobs.
    refuseIfJobBusy(ctx, target->name, targetName);
    if (source == target)
        throw QmpError("Source and target cannot be the same");
    if (filterNodeName) {
        if (ctx.nodes.find(*filterNodeName) || ctx.fileNodes.count(*filterNodeName))
            throw QmpError("Duplicate nodes with node-name='" + *filterNodeName + "'");
        if (!vm::BlockNodeTable::validNodeName(*filterNodeName))
            throw QmpError("Invalid node-name: '" + *filterNodeName + "'");
    }

    block::BackupSpec spec;
    spec.sync = parseSync(syncName);
    // QEMU's order: a missing bitmap first, then incremental's bitmap mode, then the lookup.
    if ((spec.sync == block::BackupSync::Incremental || spec.sync == block::BackupSync::Bitmap) &&
        !bitmapName)
        throw QmpError("must provide a valid bitmap name for '" + syncName + "' sync mode");
    if (spec.sync == block::BackupSync::Incremental) {
        if (bitmapMode && *bitmapMode != "on-success")
            throw QmpError("Bitmap sync mode must be 'on-success' when using sync mode "
                           "'incremental'");
        bitmapMode = "on-success";
    }
    PreparedBackup out;
    if (bitmapName) {
        block::BitmapCatalog* catalog = source->image->bitmaps();
        std::optional<block::NamedBitmap> found;
        if (catalog)
            found = catalog->find(*bitmapName);
        if (!found)
            throw QmpError("Bitmap '" + *bitmapName + "' could not be found");
        if (!bitmapMode)
            throw QmpError("Bitmap sync mode must be given when providing a bitmap");
        if (found->inconsistent)
            throw QmpError("Bitmap '" + *bitmapName + "' is inconsistent and cannot be used");
        if (ctx.jobs.bitmapBusy(source->name, *bitmapName) ||
            !ctx.nbd.exportsUsingBitmap(source->name, *bitmapName).empty())
            throw QmpError("Bitmap '" + *bitmapName +
                           "' is currently in use by another operation and cannot be used");
        if (spec.sync == block::BackupSync::None)
            throw QmpError("sync mode 'none' does not produce meaningful bitmap outputs");
        if (*bitmapMode == "never" && spec.sync != block::BackupSync::Bitmap)
            throw QmpError("Bitmap sync mode 'never' has no meaningful effect when combined "
                           "with sync mode '" +
                           syncName + "'");
        spec.bitmap = catalog->usable(*bitmapName);
        out.use.bitmaps.push_back({source->name, *bitmapName});
    } else if (bitmapMode) {
        throw QmpError("Cannot specify bitmap sync mode without a bitmap");
    }
    checkWriteUnsharable(ctx, *source);
    if (bitmapMode)
        spec.bitmapMode = *bitmapMode == "never"    ? block::BitmapMode::Never
                          : *bitmapMode == "always" ? block::BitmapMode::Always
                                                    : block::BitmapMode::OnSuccess;
    if (!jobId) {
        jobId = driveOf(ctx, device);
        if (!jobId)
            throw QmpError("An explicit job ID is required for this node");
    }
    if (!vm::wellFormedId(*jobId))
        throw QmpError("Invalid job ID '" + *jobId + "'");
    try {
        ctx.jobs.checkIdFree(*jobId);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    if (target->readOnly)
        throw QmpError("Node '" + target->name + "' is read only");
    spec.id = *jobId;
    spec.source = source->image;
    spec.target = target->image;
    spec.speed = speed.value_or(0);
    spec.autoFinalize = autoFinalize;
    spec.autoDismiss = autoDismiss;
    spec.compress = compress;
    spec.onSourceError = onError[0];
    spec.onTargetError = onError[1];
    try {
        out.job = std::make_shared<block::BackupJob>(std::move(spec));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    out.use.nodes = {source->name, target->name};
    out.use.backup = vm::BackupBitmaps{source->name, bitmapName.value_or(""), {}, {}, {}};
    out.filterNodeName = filterNodeName.value_or("");
    return out;
}

void startBackups(QmpContext& ctx, std::vector<PreparedBackup>& backups,
                  const std::function<void()>& whilePaused, bool grouped) {
    for (size_t i = 0; i < backups.size(); ++i)
        for (size_t k = 0; k < i; ++k)
            if (backups[i].job->id() == backups[k].job->id())
                throw QmpError("Job ID '" + backups[i].job->id() + "' already in use");
    {
        // One pause per distinct source, in a fixed order.
        std::vector<block::BlockDriver*> sources;
        for (const PreparedBackup& b : backups)
            sources.push_back(b.job->spec().source.get());
        std::sort(sources.begin(), sources.end());
        sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
        std::vector<std::unique_ptr<block::BlockDriver::ChangesPaused>> paused;
        for (block::BlockDriver* s : sources)
            paused.push_back(std::make_unique<block::BlockDriver::ChangesPaused>(*s));
        whilePaused();
        for (PreparedBackup& b : backups)
            for (const auto& p : paused)
                if (&p->image() == b.job->spec().source.get())
                    b.job->takePointInTime(*p);
    }
    if (grouped) {
        auto group = std::make_shared<block::JobGroup>();
        for (PreparedBackup& b : backups)
            b.job->joinGroup(group);
    }
    for (PreparedBackup& b : backups) {
        if (b.use.backup) {
            b.use.backup->copy = b.job->copyEngine();
            b.use.backup->taken = b.job->takenBitmap();
            b.use.backup->recording = b.job->spec().bitmap;
        }
        if (!b.filterNodeName.empty()) {
            // The job's copy is on the source already; the node shows it (and passes requests
            // on to the source) until the job concludes.
            auto filter = std::make_shared<block::CopyBeforeWriteFilter>(b.job->copyEngine());
            try {
                ctx.nodes.add(filter, filter->filename(), "copy-before-write", false,
                              b.filterNodeName);
            } catch (const std::exception& e) {
                throw QmpError(e.what());
            }
            ctx.closeWhenJobEnds(b.job->id(), b.filterNodeName);
        }
        ctx.jobs.start(b.job, b.use);
    }
}

void emitJobEvent(QmpContext& ctx, const block::JobEvent& e) {
    // A blockdev-create or snapshot job is not a block job: JOB_STATUS_CHANGE only.
    if (!isBlockJobType(e.info.type) && e.kind != JobEvent::StatusChange)
        return;
    switch (e.kind) {
    case JobEvent::StatusChange:
        ctx.emitEvent(
            "JOB_STATUS_CHANGE",
            Json::object({{"status", block::jobStatusName(e.info.status)}, {"id", e.info.id}}));
        break;
    case JobEvent::Pending:
        ctx.emitEvent("BLOCK_JOB_PENDING",
                      Json::object({{"type", e.info.type}, {"id", e.info.id}}));
        break;
    case JobEvent::Completed:
        ctx.emitEvent("BLOCK_JOB_COMPLETED", endEvent(e.info, true));
        break;
    case JobEvent::Cancelled:
        ctx.emitEvent("BLOCK_JOB_CANCELLED", endEvent(e.info, false));
        break;
    case JobEvent::Ready:
        ctx.emitEvent("BLOCK_JOB_READY", endEvent(e.info, false));
        break;
    case JobEvent::IoError:
        ctx.emitEvent("BLOCK_JOB_ERROR",
                      Json::object({{"device", e.info.id},
                                    {"operation", e.writeError ? "write" : "read"},
                                    {"action", e.action}}));
        break;
    }
}

void registerJobCommands(QmpContext& ctx) {
    ctx.addCommand({"blockdev-backup", blockdevBackup});
    ctx.addCommand({"query-block-jobs", queryBlockJobs});
    ctx.addCommand({"query-jobs", queryJobs});
    ctx.addCommand({"block-job-set-speed", [](QmpContext& c, const Json* args) {
                        QmpArgs a(args);
                        std::string device = a.str("device");
                        std::optional<int64_t> speed = a.optInt("speed");
                        if (!speed)
                            a.require("speed");
                        a.finish();
                        auto job = blockJob(c, device);
                        if (*speed < 0)
                            throw QmpError("Parameter 'speed' expects a non-negative value");
                        return runVerb([&] { job->setSpeed(uint64_t(*speed)); });
                    }});
    // The verbs without further arguments: block-job-* name the job "device" (or "id" for the
    // newer ones) and answer DeviceNotActive for an unknown job; job-* name it "id".
    struct Verb {
        const char* name;
        const char* key;
        bool blockJobLookup;
        std::function<void(block::Job&)> fn;
        bool settleFirst = false; // acts on a job's end states (pending, concluded)
    };
    using block::Job;
    // block-job-cancel takes "force": without it, a paused job is refused and a ready mirror
    // ends as completed (without pivot), as in QEMU.
    ctx.addCommand({"block-job-cancel", [](QmpContext& c, const Json* args) {
                        QmpArgs a(args);
                        std::string device = a.str("device");
                        bool force = a.optBool("force", false);
                        a.finish();
                        auto job = blockJob(c, device);
                        if (!force && job->info().paused)
                            throw QmpError("The block job for device '" + device +
                                           "' is currently paused");
                        // QEMU drains the job's nodes: requests waiting in a throttle
                        // group go at once (later ones are throttled again).
                        c.drainThrottleGroups();
                        return runVerb([&] { job->cancel(force); });
                    }});
    for (Verb v : {Verb{"block-job-pause", "device", true, [](Job& j) { j.pause(); }},
                   Verb{"block-job-resume", "device", true, [](Job& j) { j.resume(); }},
                   Verb{"block-job-finalize", "id", true, [](Job& j) { j.finalize(); }, true},
                   Verb{"block-job-dismiss", "id", true, [](Job& j) { j.dismiss(); }, true},
                   Verb{"block-job-complete", "device", true, [](Job& j) { j.complete(); }},
                   Verb{"job-cancel", "id", false, [](Job& j) { j.cancel(true); }},
                   Verb{"job-complete", "id", false, [](Job& j) { j.complete(); }},
                   Verb{"job-pause", "id", false, [](Job& j) { j.pause(); }},
                   Verb{"job-resume", "id", false, [](Job& j) { j.resume(); }},
                   Verb{"job-finalize", "id", false, [](Job& j) { j.finalize(); }, true},
                   Verb{"job-dismiss", "id", false, [](Job& j) { j.dismiss(); }, true}}) {
        ctx.addCommand({v.name, [v](QmpContext& c, const Json* args) {
                            QmpArgs a(args);
                            std::string id = a.str(v.key);
                            a.finish();
                            // A job that has completed is concluded for a client that saw
                            // BLOCK_JOB_COMPLETED (QEMU concludes it in the same step).
                            if (v.settleFirst)
                                settledJobs(c);
                            auto job = v.blockJobLookup ? blockJob(c, id) : plainJob(c, id);
                            return runVerb([&] { v.fn(*job); });
                        }});
    }
}

} // namespace e2kvm::qmp

// QMP drive-mirror and blockdev-mirror: the mirror block job from a node (or drive) to an image
// file that drive-mirror creates (mode absolute-paths: in the source's format unless `format`
// says otherwise, backed by the source's backing file for sync=top and by the source itself
// for sync=none) or opens (mode existing), or to an existing node (blockdev-mirror). On
// complete, every device and drive on the source uses the target, as in QEMU. Messages are
// QEMU 7.2's.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/JobTarget.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/vmcore/QemuId.h"
#include "block/ImageOpen.h"
#include "block/job/MirrorJob.h"
#include "block/qcow2/Qcow2Driver.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace e2kvm::qmp {

namespace {

// The arguments both commands share.
struct MirrorArgs {
    std::optional<std::string> jobId;
    std::string device, target, sync;
    std::optional<std::string> replaces;
    std::optional<std::string> filterNodeName; // blockdev-mirror
    std::optional<int64_t> speed, granularity, bufSize;
    block::ErrorPolicy onError[2] = {block::ErrorPolicy::Report, block::ErrorPolicy::Report};
    bool unmap = true, autoFinalize = true, autoDismiss = true;
};

void readCommon(QmpArgs& a, MirrorArgs& m) {
    m.jobId = a.optStr("job-id");
    m.device = a.str("device");
    m.target = a.str("target");
    m.replaces = a.optStr("replaces");
    m.sync = a.optEnum("sync", {"top", "full", "none", "incremental", "bitmap"}).value_or("");
    if (m.sync.empty())
        a.require("sync");
    m.speed = a.optInt("speed");
    m.granularity = a.optInt("granularity");
    m.bufSize = a.optInt("buf-size");
    for (int k = 0; k < 2; ++k) {
        auto policy = a.optEnum(k == 0 ? "on-source-error" : "on-target-error",
                                {"report", "ignore", "enospc", "stop", "auto"});
        m.onError[k] = errorPolicyFromName(policy.value_or("report"));
    }
    a.optEnum("copy-mode", {"background", "write-blocking"});
    m.autoFinalize = a.optBool("auto-finalize", true);
    m.autoDismiss = a.optBool("auto-dismiss", true);
}

// The drive id on `source` (the job id QEMU takes when none is given), if any.
std::optional<std::string> driveOn(QmpContext& ctx, const vm::BlockNode& source,
                                   const std::string& given) {
    if (!ctx.machine)
        return std::nullopt;
    for (const QmpMachineDisk& d : ctx.machine->disks())
        if (!d.device.empty() && (d.device == given || d.nodeName == source.name))
            return d.device;
    return std::nullopt;
}

// The source of a running mirror has the job's filter over it: it is no root any more.
void checkRoot(QmpContext& ctx, const vm::BlockNode& source) {
    if (ctx.jobs.nodeBusyWith(source.name) == "mirror")
        throw QmpError("Need a root block node");
}

// On complete: the devices and drives on `sourceName` use `targetName` from now on; the last
// changes of the source are copied while its writers are held (`catchUp`).
// (Devices shown on the job's named filter, `filterName`, are on the source too.)
void pivot(QmpContext& ctx, const std::string& sourceName, const std::string& targetName,
           const std::string& filterName, const std::function<void(bool)>& catchUp) {
    auto source = ctx.nodes.find(sourceName);
    auto target = ctx.nodes.find(targetName);
    if (!source || !target)
        return;
    std::vector<QmpMachineDisk> disks;
    if (ctx.machine)
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.nodeName == sourceName || (!filterName.empty() && d.nodeName == filterName))
                disks.push_back(d);
    bool caughtUp = false;
    for (const QmpMachineDisk& d : disks) {
        if (!d.handle)
            continue;
        std::function<void()> whileHeld;
        if (!caughtUp)
            whileHeld = [&] { catchUp(false); };
        d.handle->retarget(target->image, whileHeld);
        caughtUp = true;
    }
    if (!caughtUp) {
        block::BlockDriver::ChangesPaused paused(*source->image);
        catchUp(true);
    }
    for (const QmpMachineDisk& d : disks) {
        ctx.nodes.setUser(sourceName, d.user, false);
        ctx.nodes.setUser(targetName, d.user, true);
        ctx.machine->setDiskNode(d.qomPath.empty() ? d.device : d.qomPath, targetName);
    }
}

// On complete QEMU moves every parent of the source onto the target: a parent node that takes
// a permission on its child (blkdebug's take-child-perms) which a parent of the target does
// not share (unshare-child-perms) makes that fail, and the job with it.
void checkParentsFitTarget(QmpContext& ctx, const std::string& sourceName,
                           const std::string& targetName) {
    auto hasChild = [&](const std::string& parent, const std::string& child) {
        auto node = ctx.nodes.find(parent);
        return node && std::count(node->children.begin(), node->children.end(), child) != 0;
    };
    for (const auto& [parent, taken] : ctx.takenChildPermissions) {
        if (!hasChild(parent, sourceName))
            continue;
        for (const auto& [other, unshared] : ctx.unsharedChildPermissions)
            if (hasChild(other, targetName))
                for (const std::string& perm : taken)
                    if (std::count(unshared.begin(), unshared.end(), perm))
                        throw std::runtime_error(std::strerror(EPERM));
    }
}

// A drive-mirror target of mode existing is opened without its backing chain, which QEMU
// opens (as the target's header names it) only when the job completes: the chain may be put
// in place while the job runs. From then on the target's unallocated clusters read from it.
// A chain that cannot be opened is reported, and the pivot goes on without it.
void openTargetBacking(const std::shared_ptr<block::BlockDriver>& target) {
    auto q = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(target);
    if (!q || q->backing())
        return;
    block::ImageDescription d;
    target->describe(d);
    if (d.fullBackingFilename.empty())
        return;
    block::OpenOptions o;
    o.format = d.backingFormat; // none: probed, as QEMU does
    o.readOnly = true;
    try {
        q->replaceBacking(block::openImage(d.fullBackingFilename, o));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "Could not open backing file of '%s': %s\n",
                     target->filename().c_str(), e.what());
        std::fflush(stderr);
    }
}

// Checks what the job needs and starts it (target: an open node; `targetOpenedHere`: by
// drive-mirror for this job; `openBackingAtEnd`: the target's backing chain is opened on
// complete, see openTargetBacking).
void startMirror(QmpContext& ctx, MirrorArgs& m, const std::shared_ptr<vm::BlockNode>& source,
                 const std::shared_ptr<vm::BlockNode>& target, bool zeroTarget,
                 bool targetOpenedHere, bool openBackingAtEnd = false) {
    if (m.granularity && *m.granularity != 0 &&
        (*m.granularity < 512 || *m.granularity > 64 * 1048576))
        throw QmpError("Parameter 'granularity' expects a value in range [512B, 64MB]");
    if (m.granularity && (*m.granularity & (*m.granularity - 1)))
        throw QmpError("Parameter 'granularity' expects a power of 2");
    for (const auto& node : {source, target}) {
        refuseIfJobBusy(ctx, node->name, node->name);
    }
    if (m.sync == "top" && !source->image->backing())
        m.sync = "full";
    if (m.replaces) {
        auto replaced = ctx.nodes.find(*m.replaces);
        if (!replaced)
            throw QmpError("Failed to find node with node-name='" + *m.replaces + "'");
        // Only the source itself: QEMU replaces another node only below a filter or a quorum
        // of the source, and e2kvm has neither over a mirror's source.
        if (replaced != source)
            throw QmpError("Cannot replace '" + *m.replaces + "' by a node mirrored from '" +
                           source->name +
                           "', because it cannot be guaranteed that doing so would not lead "
                           "to an abrupt change of visible data");
    }
    if (m.sync == "incremental" || m.sync == "bitmap")
        throw QmpError("Sync mode '" + m.sync + "' not supported");
    if (m.bufSize && *m.bufSize < 0)
        throw QmpError("Invalid parameter 'buf-size'");
    if (source == target || source->image == target->image)
        throw QmpError("Can't mirror node into itself");
    // Without job-id the job is named after the drive on the source (none: an empty name).
    if (!m.jobId)
        m.jobId = driveOn(ctx, *source, m.device).value_or("");
    if (!vm::wellFormedId(*m.jobId))
        throw QmpError("Invalid job ID '" + *m.jobId + "'");
    try {
        ctx.jobs.checkIdFree(*m.jobId);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    if (m.speed && *m.speed < 0) {
        // QEMU has created the job when it checks the speed: it goes at once.
        for (const char* status : {"created", "null"})
            ctx.emitEvent("JOB_STATUS_CHANGE",
                          Json::object({{"status", status}, {"id", *m.jobId}}));
        throw QmpError("Parameter 'speed' expects a non-negative value");
    }

    block::MirrorSpec spec;
    spec.id = *m.jobId;
    spec.source = source->image;
    spec.target = target->image;
    spec.sync = m.sync == "none"  ? block::MirrorSync::None
                : m.sync == "top" ? block::MirrorSync::Top
                                  : block::MirrorSync::Full;
    spec.granularity = uint64_t(m.granularity.value_or(0));
    spec.bufSize = uint64_t(m.bufSize.value_or(0));
    spec.speed = uint64_t(m.speed.value_or(0));
    spec.onSourceError = m.onError[0];
    spec.onTargetError = m.onError[1];
    spec.autoFinalize = m.autoFinalize;
    spec.autoDismiss = m.autoDismiss;
    spec.zeroTarget = zeroTarget;
    // A target opened by drive-mirror takes the source's discard mode, as in QEMU.
    spec.targetUnmaps = targetOpenedHere ? source->discardUnmap : target->discardUnmap;
    spec.unmap = m.unmap;
    std::string sourceName = source->name, targetName = target->name;
    std::string filterName = m.filterNodeName.value_or("");
    std::shared_ptr<block::BlockDriver> targetImage = openBackingAtEnd ? target->image : nullptr;
    spec.pivot = [&ctx, sourceName, targetName, filterName,
                  targetImage](const std::function<void(bool)>& catchUp) {
        pivot(ctx, sourceName, targetName, filterName, [&catchUp, &targetImage](bool sourceHeld) {
            catchUp(sourceHeld);
            if (targetImage)
                openTargetBacking(targetImage); // after the last copy, as in QEMU
        });
    };
    spec.checkPivot = [&ctx, sourceName, targetName] {
        checkParentsFitTarget(ctx, sourceName, targetName);
    };
    std::shared_ptr<block::MirrorJob> job;
    try {
        job = std::make_shared<block::MirrorJob>(std::move(spec));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    if (m.filterNodeName) {
        // The job's filter over the source: requests through it reach the source (and are
        // mirrored) until the job ends.
        try {
            ctx.nodes.add(source->image, source->file, "mirror_top", false, *m.filterNodeName);
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
        ctx.closeWhenJobEnds(*m.jobId, *m.filterNodeName);
        // The filter stands between the source and its devices: query-block shows them on it
        // while the job runs, and back on the source if the job ends without a pivot.
        if (ctx.machine) {
            for (const QmpMachineDisk& d : ctx.machine->disks())
                if (d.nodeName == sourceName)
                    ctx.machine->setDiskNode(d.qomPath.empty() ? d.device : d.qomPath, filterName);
            QmpMachine* machine = ctx.machine;
            ctx.whenJobEnds(*m.jobId, [machine, sourceName, filterName] {
                for (const QmpMachineDisk& d : machine->disks())
                    if (d.nodeName == filterName)
                        machine->setDiskNode(d.qomPath.empty() ? d.device : d.qomPath, sourceName);
            });
        }
    }
    vm::JobUse use;
    use.nodes = {source->name, target->name};
    ctx.jobs.start(job, use);
}

Json driveMirror(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    MirrorArgs m;
    readCommon(a, m);
    std::optional<std::string> format = a.optStr("format");
    std::optional<std::string> nodeName = a.optStr("node-name");
    std::string mode = a.optEnum("mode", {"existing", "absolute-paths"}).value_or("absolute-paths");
    m.unmap = a.optBool("unmap", true);
    a.finish();

    auto source = lookupNode(ctx, m.device);
    checkRoot(ctx, *source);
    refuseIfJobBusy(ctx, source->name, source->name);
    if (m.sync == "top" && !source->image->backing())
        m.sync = "full";
    if (m.replaces && !nodeName)
        throw QmpError("a node-name must be provided when replacing a named node of the graph");
    if (mode == "absolute-paths" && (m.sync == "full" || m.sync == "top" || m.sync == "none"))
        createJobTarget(*source, m.target, format.value_or(source->format), m.sync);
    const bool wasOpen = m.sync != "none" && ctx.nodes.findByFile(m.target) != nullptr;
    std::shared_ptr<vm::BlockNode> node;
    try {
        // The target opened writable, in the format given or probed.
        auto targetOptions = [&] {
            block::OpenOptions options;
            options.format = format.value_or("");
            if (options.format.empty()) {
                options.format = block::probeFormat(m.target);
                options.formatProbed = true;
            }
            options.readOnly = false;
            return options;
        };
        if (m.sync == "none" && mode == "absolute-paths") {
            // The source itself is under the new target, as in QEMU.
            block::OpenOptions options = targetOptions();
            options.backingNode = source->image;
            std::shared_ptr<block::BlockDriver> image = block::openImage(m.target, options);
            std::string name = nodeName.value_or("");
            for (unsigned n = 1; name.empty() || (!nodeName && ctx.nodes.find(name)); ++n)
                name = "drive-mirror-target" + std::to_string(n);
            node = ctx.nodes.add(std::move(image), m.target, options.format, false, name);
        } else if (mode == "existing" && !wasOpen) {
            // Without its backing chain until the job completes (openTargetBacking).
            block::OpenOptions options = targetOptions();
            options.openBacking = false;
            options.unshare = block::kPermWrite; // as a node the table opens
            std::shared_ptr<block::BlockDriver> image = block::openImage(m.target, options);
            node = ctx.nodes.add(std::move(image), m.target, options.format, false,
                                 nodeName.value_or(""));
        } else {
            node = ctx.nodes.open(m.target, format.value_or(""), false, nodeName.value_or(""));
        }
    } catch (const QmpError&) {
        throw;
    } catch (const std::invalid_argument& e) {
        throw QmpError(e.what());
    } catch (const std::exception& e) {
        std::string msg = e.what();
        if (msg.rfind(m.target + ": ", 0) == 0)
            msg.erase(0, m.target.size() + 2);
        if (msg.rfind("Could not open: ", 0) == 0)
            msg.erase(0, 16);
        throw QmpError("Could not open '" + m.target + "': " + msg);
    }
    // A newly created image reads as zeros; an existing one is zeroed first for sync=full.
    bool zeroTarget = m.sync == "full" && mode == "existing";
    try {
        startMirror(ctx, m, source, node, zeroTarget, !wasOpen, mode == "existing" && !wasOpen);
    } catch (...) {
        if (!wasOpen)
            ctx.nodes.remove(node->name);
        throw;
    }
    // Closed when the job ends, unless the pivot gave it to a drive (then it is in use).
    if (!wasOpen)
        ctx.closeWhenJobEnds(*m.jobId, node->name);
    return Json::object();
}

Json blockdevMirror(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    MirrorArgs m;
    readCommon(a, m);
    m.filterNodeName = a.optStr("filter-node-name");
    a.finish();
    auto source = lookupNode(ctx, m.device);
    checkRoot(ctx, *source);
    auto target = lookupNode(ctx, m.target);
    startMirror(ctx, m, source, target, m.sync == "full", false);
    return Json::object();
}

} // namespace

void registerMirrorCommands(QmpContext& ctx) {
    ctx.addCommand({"drive-mirror", driveMirror});
    ctx.addCommand({"blockdev-mirror", blockdevMirror});
}

} // namespace e2kvm::qmp

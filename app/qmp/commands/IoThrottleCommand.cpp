// QMP block_set_io_throttle (libvirt's blkdeviotune): a drive's I/O limits, set, changed, moved
// to another group or lifted while the machine runs, as QEMU 7.2 does. The guest's requests
// go through a throttle filter over the drive's node while limits are set; drives (and
// throttle-group objects) naming the same group share its limits.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/DriveLookup.h"
#include "block/BlockError.h"
#include "block/filter/ThrottleFilter.h"

#include <optional>
#include <string>

namespace e2kvm::qmp {

namespace {

// The group of that name another drive or a throttle-group object has, or a new one.
std::shared_ptr<block::ThrottleGroup> groupNamed(QmpContext& ctx, const std::string& name) {
    for (const QmpMachineDisk& d : ctx.machine->disks())
        if (d.throttleGroup && d.throttleGroupName == name)
            return d.throttleGroup;
    if (auto it = ctx.throttleGroups.find(name); it != ctx.throttleGroups.end())
        return it->second;
    return std::make_shared<block::ThrottleGroup>();
}

Json blockSetIoThrottle(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::optional<std::string> device = a.optStr("device"), id = a.optStr("id");
    block::ThrottleLimits limits;
    static const char* const names[] = {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"};
    for (size_t k = 0; k < block::kThrottleKinds; ++k) {
        std::optional<int64_t> avg = a.optInt(names[k]);
        if (!avg)
            a.require(names[k]);
        // (A negative value becomes one too large: check() refuses it with QEMU's words.)
        limits.limit[k].avg = uint64_t(*avg);
    }
    for (size_t k = 0; k < block::kThrottleKinds; ++k) {
        if (auto max = a.optInt(std::string(names[k]) + "_max"))
            limits.limit[k].max = uint64_t(*max);
        if (auto length = a.optInt(std::string(names[k]) + "_max_length"))
            limits.limit[k].maxLength = uint64_t(*length);
    }
    if (auto size = a.optInt("iops_size"))
        limits.iopsSize = uint64_t(*size);
    std::optional<std::string> groupArg = a.optStr("group");
    a.finish();

    Drive drive = findDrive(ctx, device, id);
    auto node = ctx.nodes.find(drive.disk.nodeName);
    if (!node)
        throw QmpError("Device has no medium");
    try {
        limits.check();
    } catch (const block::BlockError& e) {
        throw QmpError(e.what());
    }
    bool enabled = false;
    for (const block::ThrottleLimit& l : limits.limit)
        enabled = enabled || l.avg > 0;

    std::shared_ptr<block::ThrottleGroup> group = drive.disk.throttleGroup;
    std::string groupName = drive.disk.throttleGroupName;
    if (enabled) {
        if (!group || (groupArg && *groupArg != groupName)) {
            groupName = groupArg ? *groupArg : group ? groupName : device ? *device : *id;
            group = groupNamed(ctx, groupName);
        }
        group->setLimits(limits);
    } else if (!group) {
        return Json::object(); // nothing to lift
    } else {
        group = nullptr;
        groupName.clear();
    }
    // The guest's requests: through a filter of the (new) group, or straight to the node.
    if (drive.disk.handle && group != drive.disk.throttleGroup) {
        std::shared_ptr<block::BlockDriver> path = node->image;
        if (group)
            path = std::make_shared<block::ThrottleFilter>(path, group, groupName);
        try {
            drive.disk.handle->retarget(path);
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
    }
    ctx.machine->updateDisk(drive.key(), [&](QmpMachineDisk& d) {
        d.throttleGroup = group;
        d.throttleGroupName = groupName;
    });
    return Json::object();
}

} // namespace

void registerIoThrottleCommand(QmpContext& ctx) {
    ctx.addCommand({"block_set_io_throttle", blockSetIoThrottle, true});
}

} // namespace e2kvm::qmp

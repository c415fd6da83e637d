// QMP machine commands: query-status, stop, cont, system_reset, screendump, and qom-set of a
// block device's "drive" (the node under a running device exchanged). Each needs a machine
// ("No machine" otherwise).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/NodeLookup.h"
#include "emu/display/Png.h"

namespace e2kvm::qmp {

namespace {

Json queryStatus(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    std::string status = ctx.machine->status();
    return Json::object(
        {{"running", status == "running"}, {"singlestep", false}, {"status", status}});
}

Json stop(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    ctx.machine->stop();
    return Json::object();
}

Json cont(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    std::string status = ctx.machine->status();
    if (status == "shutdown" || status == "internal-error")
        throw QmpError("Resetting the Virtual Machine is required");
    ctx.machine->cont();
    return Json::object();
}

Json systemReset(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    ctx.machine->reset();
    return Json::object();
}

Json screendump(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string filename = a.str("filename");
    std::optional<std::string> device = a.optStr("device");
    std::optional<int64_t> head = a.optInt("head");
    std::string format = a.optEnum("format", {"ppm", "png"}).value_or("ppm");
    a.finish();
    if (device && !device->empty() && *device != "display0" && *device != "video0")
        throw QmpError("Device '" + *device + "' not found", "DeviceNotFound");
    if (head && *head != 0)
        throw QmpError("Head '" + std::to_string(*head) + "' not found");
    std::shared_ptr<const emu::FrameImage> frame = ctx.machine->screen();
    if (!frame || frame->width <= 0 || frame->height <= 0)
        throw QmpError("There is no QemuConsole I can screendump from.");
    try {
        if (format == "png")
            emu::writePngFile(filename, *frame);
        else
            emu::writePpmFile(filename, *frame);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return Json::object();
}

// The disk of the device a QOM path (or a device id) names.
std::optional<QmpMachineDisk> deviceDisk(QmpContext& ctx, const std::string& path) {
    std::vector<QmpMachineDisk> disks = ctx.machine->disks();
    if (const QmpMachineDisk* d = findGuestDevice(disks, path))
        return *d;
    return std::nullopt;
}

// qom-set PATH drive NODE: the guest device reads and writes NODE from now on (how a
// copy-before-write filter goes under a running disk and comes out again). Requests in
// flight finish on the old node first.
Json qomSet(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string path = a.str("path");
    std::string property = a.str("property");
    const Json& value = a.require("value");
    a.finish();
    std::optional<QmpMachineDisk> disk = deviceDisk(ctx, path);
    if (!disk)
        throw QmpError("Device '" + path + "' not found", "DeviceNotFound");
    if (property != "drive")
        throw QmpError("Property '" + property + "' not found (e2kvm sets 'drive' only)");
    if (!value.isString())
        throw QmpError("Invalid parameter type for 'drive', expected: string");
    if (!disk->handle)
        throw QmpError("Device '" + path + "': its drive cannot be changed");
    // The node of that name first: a -drive's node is named as the drive by default, and
    // after a filter went under the device the drive's name leads to the filter.
    auto node = ctx.nodes.find(value.asString());
    if (!node)
        node = lookupNode(ctx, value.asString());
    if (node->name == disk->nodeName)
        return Json::object();
    try {
        disk->handle->retarget(node->image);
    } catch (const std::exception& e) {
        throw QmpError(blockMessage(*node, e));
    }
    ctx.nodes.setUser(disk->nodeName, disk->user, false);
    ctx.nodes.setUser(node->name, disk->user, true);
    ctx.machine->setDiskNode(disk->qomPath, node->name);
    return Json::object();
}

} // namespace

void registerMachineCommands(QmpContext& ctx) {
    ctx.addCommand({"query-status", queryStatus, true});
    ctx.addCommand({"stop", stop, true});
    ctx.addCommand({"cont", cont, true});
    ctx.addCommand({"system_reset", systemReset, true});
    ctx.addCommand({"screendump", screendump, true});
    ctx.addCommand({"qom-set", qomSet, true});
}

} // namespace e2kvm::qmp

// QMP machine commands: query-status, stop, cont, system_reset, screendump. Each needs a
// machine ("No machine" otherwise).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "emu/display/Png.h"

namespace e2kvm::qmp {

namespace {

Json queryStatus(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    std::string status = ctx.machine->status();
    return Json::object(
        {{"status", status}, {"singlestep", false}, {"running", status == "running"}});
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

} // namespace

void registerMachineCommands(QmpContext& ctx) {
    ctx.addCommand({"query-status", queryStatus, true});
    ctx.addCommand({"stop", stop, true});
    ctx.addCommand({"cont", cont, true});
    ctx.addCommand({"system_reset", systemReset, true});
    ctx.addCommand({"screendump", screendump, true});
}

} // namespace e2kvm::qmp

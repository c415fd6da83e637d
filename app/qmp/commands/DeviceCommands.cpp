// QMP device_add and device_del: a guest device plugged into or out of the running machine
// (a virtio-scsi controller, a scsi-hd or virtio-blk disk on a node or drive), with
// DEVICE_DELETED for each device that went. The machine decides what it can plug
// (QmpMachine::addDevice); arguments become its -device syntax.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"

#include <algorithm>

namespace e2kvm::qmp {

namespace {

// One -device value: commas doubled, as QEMU's option syntax escapes them.
std::string optionValue(const std::string& key, const Json& value) {
    std::string text;
    if (value.isString())
        text = value.asString();
    else if (value.isBool())
        text = value.asBool() ? "on" : "off";
    else if (value.isNumber())
        text = value.serialize();
    else
        throw QmpError("Parameter '" + key + "' expects a scalar value");
    std::string out;
    for (char c : text) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}

Json deviceAdd(QmpContext& ctx, const Json* args) {
    if (!args || !args->isObject())
        throw QmpError("Parameter 'driver' is missing");
    const Json* driver = args->find("driver");
    if (!driver)
        throw QmpError("Parameter 'driver' is missing");
    if (!driver->isString())
        throw QmpError("Invalid parameter type for 'driver', expected: string");
    std::string spec = "driver=" + optionValue("driver", *driver);
    for (const auto& [key, value] : args->asObject()) {
        if (key == "driver")
            continue;
        if (key.find_first_of(",=") != std::string::npos) // no property has such a name
            throw QmpError("Property '" + driver->asString() + "." + key + "' not found");
        spec += "," + key + "=" + optionValue(key, value);
    }
    try {
        ctx.machine->addDevice(spec);
    } catch (const QmpError&) {
        throw;
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return Json::object();
}

Json deviceDel(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string id = a.str("id");
    a.finish();
    std::vector<QmpDeletedDevice> deleted;
    const std::vector<QmpMachineDisk> before = ctx.machine->disks();
    try {
        deleted = ctx.machine->deleteDevice(id);
    } catch (const QmpError&) {
        throw;
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    // A -drive that went with its device takes the jobs on its node with it (QEMU cancels,
    // without force, every job that has the auto-deleted drive's node).
    const std::vector<QmpMachineDisk> after = ctx.machine->disks();
    for (const QmpMachineDisk& d : before) {
        if (d.device.empty() || d.nodeName.empty() ||
            std::any_of(after.begin(), after.end(),
                        [&](const QmpMachineDisk& left) { return left.device == d.device; }))
            continue;
        for (const auto& job : ctx.jobs.jobsUsing(d.nodeName)) {
            try {
                job->cancel(false);
            } catch (const std::exception&) {
                // Ending already, or in a state that takes no cancel: it goes its way.
            }
        }
    }
    for (const QmpDeletedDevice& d : deleted) {
        Json data = Json::object();
        if (!d.id.empty())
            data.set("device", d.id);
        data.set("path", d.path);
        ctx.emitEvent("DEVICE_DELETED", std::move(data));
    }
    return Json::object();
}

} // namespace

void registerDeviceCommands(QmpContext& ctx) {
    ctx.addCommand({"device_add", deviceAdd, true});
    ctx.addCommand({"device_del", deviceDel, true});
}

} // namespace e2kvm::qmp

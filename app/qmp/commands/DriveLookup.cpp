#include "app/qmp/commands/DriveLookup.h"

#include "app/qmp/QmpError.h"

namespace e2kvm::qmp {

Drive findDrive(QmpContext& ctx, const std::optional<std::string>& device,
                const std::optional<std::string>& id) {
    if (device.has_value() == id.has_value())
        throw QmpError("Need exactly one of 'device' and 'id'");
    for (const QmpMachineDisk& d : ctx.machine->disks()) {
        if (device && !d.device.empty() && d.device == *device)
            return {d, *device};
        if (id && ((!d.deviceId.empty() && d.deviceId == *id) ||
                   (!d.qomPath.empty() && d.qomPath == *id) || (!d.qdev.empty() && d.qdev == *id)))
            return {d, *id};
    }
    throw QmpError("Device '" + (device ? *device : *id) + "' not found", "DeviceNotFound");
}

} // namespace e2kvm::qmp

#include "app/qmp/commands/DriveLookup.h"

#include "app/qmp/QmpError.h"

namespace e2kvm::qmp {

Drive findDrive(QmpContext& ctx, const std::optional<std::string>& device,
                const std::optional<std::string>& id) {
    if (device.has_value() == id.has_value())
        throw QmpError("Need exactly one of 'device' and 'id'");
    std::vector<QmpMachineDisk> disks = ctx.machine->disks();
    if (id) {
        if (const QmpMachineDisk* d = findGuestDevice(disks, *id))
            return {*d, *id};
    } else {
        for (const QmpMachineDisk& d : disks)
            if (!d.device.empty() && d.device == *device)
                return {d, *device};
    }
    throw QmpError("Device '" + (device ? *device : *id) + "' not found", "DeviceNotFound");
}

} // namespace e2kvm::qmp

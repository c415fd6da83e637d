#pragma once
// DriveLookup: a drive as QMP's removable-media and throttling commands find it, by its name
// ("device") or by its device's id or QOM path ("id"), with QEMU's errors.
#include "app/qmp/QmpContext.h"

#include <optional>
#include <string>

namespace e2kvm::qmp {

struct Drive {
    QmpMachineDisk disk;
    std::string label; // how messages name it: what the client gave
    bool hasDevice() const { return !disk.qdev.empty(); }
    bool hasTray() const { return disk.removable && hasDevice(); }
    // What the machine knows the drive by (QmpMachine::setDiskNode, updateDisk).
    std::string key() const { return disk.qomPath.empty() ? disk.device : disk.qomPath; }
};

// "Need exactly one of 'device' and 'id'"; DeviceNotFound "Device 'x' not found".
Drive findDrive(QmpContext& ctx, const std::optional<std::string>& device,
                const std::optional<std::string>& id);

} // namespace e2kvm::qmp

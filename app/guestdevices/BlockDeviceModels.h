#pragma once
// BlockDeviceModels: the qemu-system device models e2kvm maps onto the e2k-vm board's one kind
// of block device (virtio-blk, scsi-hd, ide-hd, ...) and the controllers it accepts for them
// (virtio-scsi), as `-device help` lists them. parseDevice turns a -device argument into a
// DeviceOption; parseDeviceAdd does the same for device_add.
#include "app/guestdevices/DeviceOption.h"
#include "app/guestdevices/QemuOpts.h"

#include <string>
#include <vector>

namespace e2kvm::guestdev {

struct BlockDeviceModel {
    std::string name;        // "virtio-blk-pci"
    std::string bus;         // "PCI", "virtio-bus", "SCSI", "IDE"
    std::string alias;       // "virtio-blk" or ""
    std::string desc;        // "" or QEMU's description
    bool controller = false; // takes no drive (virtio-scsi)
};

const std::vector<BlockDeviceModel>& blockDeviceModels();

// `-device help`: QEMU's layout (a category line, then one `name "…", bus …` line a model).
std::string deviceHelpText();

// -device DRIVER[,id=ID][,drive=X][,…]. Throws OptionError with qemu-system's messages
// ("'foo' is not a valid device model name", "drive property not set").
DeviceOption parseDevice(const std::string& spec);
// device_add's arguments in -device syntax: as parseDevice, but a bad one throws qmp::QmpError
// with qemu-system's message without the "-device SPEC: " prefix (what QMP and HMP answer).
DeviceOption parseDeviceAdd(const std::string& spec);

} // namespace e2kvm::guestdev

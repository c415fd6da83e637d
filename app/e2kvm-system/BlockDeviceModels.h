#pragma once
// BlockDeviceModels: the qemu-system device models e2kvm-system maps onto the e2k-vm board's
// one kind of block device (virtio-blk, scsi-hd, ide-hd, ...) and the controllers it accepts
// for them (virtio-scsi), as `-device help` lists them; and the block drivers `-drive
// format=help` lists. parseDevice turns a -device argument into a DeviceOption.
#include "app/e2kvm-system/SystemOptions.h"

#include <string>
#include <vector>

namespace e2kvm::sys {

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
// `-drive format=help`: the drivers blockdev-add and -drive know, in QEMU's two lines
// (read-write, then read-only).
std::string formatHelpText();

// -device DRIVER[,id=ID][,drive=X][,…]. Throws OptionError with qemu-system's messages
// ("'foo' is not a valid device model name", "drive property not set").
DeviceOption parseDevice(const std::string& spec);

} // namespace e2kvm::sys

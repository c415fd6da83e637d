#pragma once
// DeviceOption: one guest device as -device and device_add give it (parseDevice makes it).
#include <string>

namespace e2kvm::guestdev {

// -device DRIVER,id=ID,drive=X for a block device: the board's one kind of disk, attached to
// the node X names (a -drive if=none id, or a node name from -blockdev/-drive). Controllers
// (virtio-scsi) have no drive and change nothing.
struct DeviceOption {
    std::string spec;     // as given (for messages)
    std::string driver;   // canonical model name ("virtio-blk-pci", "scsi-hd", ...)
    std::string id;       // qdev id ("" = none given)
    std::string drive;    // "" for a controller
    std::string bus;      // bus=: the controller bus a disk goes on ("scsi0.0"), "" = any
    std::string iothread; // iothread=: of a controller or virtio-blk device, "" = main loop
    bool readOnly = false;
    std::string writeCache = "auto"; // write-cache=on|off|auto: auto keeps the drive's cache mode
};

} // namespace e2kvm::guestdev

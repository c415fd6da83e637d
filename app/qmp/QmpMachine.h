#pragma once
// QmpMachine: what QMP needs from a running VM (run state, stop/cont/reset/quit, the screen,
// its disks and its events). RunnerBackedMachine is the shared adapter over emu::MachineRunner
// (RunnerMachine, e2kvm-system's SystemMachine, the GUI's SelectedVmMachine); tests use a fake.
#include "block/filter/ThrottleGroup.h"
#include "block/graph/BlockHandle.h"
#include "emu/display/Frame.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace e2kvm::qmp {

struct QmpMachineEvent {
    enum Kind { Stop, Resume, Reset, Shutdown } kind = Stop;
    bool guest = false; // RESET/SHUTDOWN: caused by the guest
    std::string reason; // RESET/SHUTDOWN: QEMU's ShutdownCause name ("host-qmp-quit", ...)
};

// A guest device device_del took away (DEVICE_DELETED's data): its id ("" for an anonymous
// one or a device's part such as its virtio backend) and QOM path.
struct QmpDeletedDevice {
    std::string id;
    std::string path;
};

struct QmpMachineDisk {
    std::string device;     // drive id ("disk0"); "" for a device on a -blockdev node
    std::string nodeName;   // node of the BlockNodeTable behind it (may be empty)
    std::string qdev;       // the device's id or QOM path ("/machine/peripheral/vd0/...")
    bool removable = false; // a CD-ROM drive (empty: nodeName is ""), or a drive no device uses
    // A guest device's QOM path ("/machine/peripheral/sda", "/machine/peripheral-anon/device[0]")
    // and its id ("sda", or "" for an anonymous one); empty for a drive no device uses.
    std::string qomPath;
    std::string deviceId;
    // What the device reads and writes through; qom-set DEVICE drive NODE retargets it.
    // Null when the device's node cannot be exchanged.
    std::shared_ptr<block::BlockHandle> handle;
    // How the device stands in its node's users (BlockNodeTable::users).
    std::string user;
    // The drive's cache mode (-drive cache=, a device's write-cache=), as query-block shows it.
    bool writeback = true;
    bool direct = false;
    bool noFlush = false;
    // -drive throttling.*: the group the drive's requests wait in (its name: throttling.group
    // or the drive id), shown by query-block; null when not throttled.
    std::shared_ptr<block::ThrottleGroup> throttleGroup;
    std::string throttleGroupName;
    // A removable drive's tray (query-block's tray_open; only a drive with a device has one),
    // and the drive's read-only setting a new medium keeps (blockdev-change-medium's retain).
    bool trayOpen = false;
    bool readOnly = false;
};

// In `disks`, the guest device `key` names: its id, its QOM path or query-block's qdev for it
// (a virtio disk's backend, the board's empty CD-ROM drive); null if there is none.
inline const QmpMachineDisk* findGuestDevice(const std::vector<QmpMachineDisk>& disks,
                                             const std::string& key) {
    for (const QmpMachineDisk& d : disks)
        if ((!d.qomPath.empty() &&
             (d.qomPath == key || (!d.deviceId.empty() && d.deviceId == key))) ||
            (!d.qdev.empty() && d.qdev == key))
            return &d;
    return nullptr;
}

// In `disks`, the disk of the device at `qomPath` (or the drive of that id that no device
// uses) now uses node `nodeName`; false if no disk has that device (what the adapters'
// setDiskNode do under their own lock).
inline bool setNodeOfDevice(std::vector<QmpMachineDisk>& disks, const std::string& qomPath,
                            const std::string& nodeName) {
    for (QmpMachineDisk& d : disks) {
        bool device = !d.qomPath.empty() && d.qomPath == qomPath;
        bool driveOnly = d.qomPath.empty() && !d.device.empty() && d.device == qomPath;
        if (device || driveOnly) {
            d.nodeName = nodeName;
            return true;
        }
    }
    return false;
}

// In `disks`, the disk `key` names (as setNodeOfDevice finds it) changed by `change`; false if
// no disk has that device (what the adapters' updateDisk do under their own lock).
inline bool updateDiskOfDevice(std::vector<QmpMachineDisk>& disks, const std::string& key,
                               const std::function<void(QmpMachineDisk&)>& change) {
    for (QmpMachineDisk& d : disks) {
        if ((!d.qomPath.empty() && d.qomPath == key) ||
            (d.qomPath.empty() && !d.device.empty() && d.device == key)) {
            change(d);
            return true;
        }
    }
    return false;
}

class QmpMachine {
public:
    virtual ~QmpMachine() = default;
    // QMP RunState name: "prelaunch", "running", "paused", "shutdown", "internal-error".
    virtual std::string status() const = 0;
    virtual std::string name() const = 0;
    virtual void stop() = 0;
    virtual void cont() = 0;
    virtual void reset() = 0;
    // Ends the machine (disks flushed). Reports SHUTDOWN {guest: false, reason} exactly once.
    virtual void quit(const std::string& reason) = 0;
    // The newest screen contents, or null if the machine has never drawn.
    virtual std::shared_ptr<const emu::FrameImage> screen() const = 0;
    virtual std::vector<QmpMachineDisk> disks() const = 0;
    // The device at `qomPath` now uses node `nodeName` (its handle was retargeted): disks()
    // reports it so from now on. False if no disk has that device.
    virtual bool setDiskNode(const std::string& qomPath, const std::string& nodeName) {
        (void)qomPath;
        (void)nodeName;
        return false;
    }
    // The disk `key` names (as setDiskNode) changed by `change` (its tray, its throttling);
    // disks() reports it so from now on. False if no disk has that device.
    virtual bool updateDisk(const std::string& key,
                            const std::function<void(QmpMachineDisk&)>& change) {
        (void)key;
        (void)change;
        return false;
    }
    // HMP drive_add: opens the drive `options` give (-drive syntax) and lists it as a drive no
    // device uses. HMP drive_del: the drive `id` is no more and its node closes (unless
    // another user keeps it). Both throw std::runtime_error with the message to print; a
    // machine that cannot add or remove drives says so.
    virtual void addDrive(const std::string& options) {
        (void)options;
        throw std::runtime_error("drive_add is not supported by this machine");
    }
    virtual void deleteDrive(const std::string& id) {
        (void)id;
        throw std::runtime_error("drive_del is not supported by this machine");
    }
    // device_add: plugs the device `spec` describes in -device syntax ("scsi-hd,id=sd0,drive=hd0")
    // into the running machine. device_del: unplugs the device of that id or QOM path (with the
    // devices on its buses) and returns what went, children first. Both throw QmpError with
    // qemu-system's message; a machine without hot-plug says so.
    virtual void addDevice(const std::string& spec) {
        (void)spec;
        throw std::runtime_error("device_add is not supported by this machine");
    }
    virtual std::vector<QmpDeletedDevice> deleteDevice(const std::string& id) {
        (void)id;
        throw std::runtime_error("device_del is not supported by this machine");
    }
    // HMP savevm: calls `store` with the machine's saved state and its virtual time (ns) while
    // the machine is stopped, so that the disks can be snapshotted at the same moment (a
    // running machine runs on afterwards). HMP loadvm: with the machine stopped, loads the
    // state `fetch` returns (after reverting the disks); a running machine runs on from it,
    // after a failure it stays paused. Both throw std::runtime_error with the message to print.
    using StateStore = std::function<void(const std::vector<uint8_t>& state, uint64_t vmClockNs)>;
    virtual void saveState(const StateStore& store) {
        (void)store;
        throw std::runtime_error("this machine cannot save its state");
    }
    virtual void loadState(const std::function<std::vector<uint8_t>()>& fetch) {
        (void)fetch;
        throw std::runtime_error("this machine cannot load a saved state");
    }
    // Called on any thread; must not block.
    virtual void setEventHandler(std::function<void(const QmpMachineEvent&)> handler) = 0;
};

} // namespace e2kvm::qmp

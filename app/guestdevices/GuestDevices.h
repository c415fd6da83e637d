#pragma once
// GuestDevices: the guest devices of an e2k-vm board, from -device, -drive if=virtio and
// device_add (e2kvm-system's, and the GUI's --qmp for its selected VM): storage controllers
// (virtio-scsi: their buses and iothreads) and disks in the board's block-device slots. Attaching a
// disk checks qemu-system's rules (the drive or node exists and is free, the bus exists, a node is
// used from one iothread, one writer per node); before the machine runs disks go into its
// configuration, after that they are plugged into the running machine and device_del unplugs them.
#include "app/guestdevices/DeviceOption.h"
#include "app/qmp/QmpMachine.h"
#include "app/vmcore/BlockNodeTable.h"
#include "emu/machine/Machine.h"
#include "emu/machine/MachineConfig.h"
#include "emu/machine/MachineRunner.h"

#include <array>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace e2kvm::guestdev {

class GuestDevices {
public:
    explicit GuestDevices(vm::BlockNodeTable& nodes) : nodes_(nodes) {}

    // What a guest disk reads and writes: the node's image, behind the drive's throttle group
    // if it has one.
    static std::shared_ptr<block::BlockDriver>
    guestImage(const qmp::QmpMachineDisk& disk, std::shared_ptr<block::BlockDriver> image);

    // Until setRunner, disks go into `config` (their slot is their index there); from then
    // on they are plugged into the running machine.
    void setConfig(emu::MachineConfig* config) { config_ = config; }
    void setRunner(emu::MachineRunner* runner) {
        runner_ = runner;
        config_ = nullptr;
    }
    // The iothread objects there are (a device's iothread= must name one).
    void setIothreads(const std::set<std::string>* iothreads) { iothreads_ = iothreads; }
    // The number the next anonymous device takes (/machine/peripheral-anon/device[N]).
    void setNextAnonymous(unsigned n) { nextAnonymous_ = n; }
    unsigned nextAnonymous() const { return nextAnonymous_; }

    // The disk of a -drive if=virtio: it takes the next slot.
    void addDriveDisk(const qmp::QmpMachineDisk& disk, bool readOnly);
    // A disk the machine already has in `slot` (its configuration put it there, as the GUI's
    // VM disks): the slot is taken and device_del can unplug it. Its node's user is set by the
    // caller, and the node stays open when the device goes (it is not a -drive's).
    void addPresentDisk(const qmp::QmpMachineDisk& disk, unsigned slot);
    // -device and device_add. The drive a disk names is a drive among `disks` or a node; the
    // new disk is filled into that drive's entry or added. Throws std::runtime_error with
    // qemu-system's message (no "-device …:" prefix).
    void add(const DeviceOption& d, std::vector<qmp::QmpMachineDisk>& disks);
    // device_del of the device of id or QOM path `id`, with the disks on its buses; its
    // entries leave `disks` (a -drive's drive goes with its device, as QEMU's). Returns what
    // went, children first. Throws qmp::QmpError (DeviceNotFound) for an unknown device.
    std::vector<qmp::QmpDeletedDevice> remove(const std::string& id,
                                              std::vector<qmp::QmpMachineDisk>& disks);
    // The machine has ended (its devices went with it; nothing is unplugged): the disks add()
    // made leave `disks` and stop using their nodes, and every device is forgotten.
    void releaseAll(std::vector<qmp::QmpMachineDisk>& disks);

private:
    struct Controller {
        std::string id, qomPath, driver, iothread;
        std::string bus() const { return (id.empty() ? qomPath : id) + ".0"; }
    };
    struct Disk {
        std::string qomPath;
        unsigned slot = 0;
        std::string iothread;   // its controller's or its own
        std::string controller; // QOM path of the controller whose bus it is on, or ""
        bool virtio = false;    // has a virtio-backend part (virtio-blk)
        bool dropsDrive = true; // a -drive's drive goes with it (not a present disk's node)
        bool added = false;     // made by add(): its entry and node use are ours
    };

    const Controller* controllerFor(const DeviceOption& d) const;
    void checkNodeUse(const std::string& nodeName, const std::string& qdev, bool writes,
                      const std::string& iothread,
                      const std::vector<qmp::QmpMachineDisk>& disks) const;
    unsigned freeSlot() const;
    void plug(unsigned slot, const emu::MachineDisk& disk);
    void unplugDisk(const Disk& disk, std::vector<qmp::QmpMachineDisk>& disks,
                    std::vector<qmp::QmpDeletedDevice>& deleted);

    vm::BlockNodeTable& nodes_;
    emu::MachineConfig* config_ = nullptr;
    emu::MachineRunner* runner_ = nullptr;
    const std::set<std::string>* iothreads_ = nullptr;
    unsigned nextAnonymous_ = 0;
    std::vector<Controller> controllers_;
    std::vector<Disk> disks_;
    std::array<bool, emu::Machine::kMaxDisks> slotUsed_{};
};

} // namespace e2kvm::guestdev

#include "app/guestdevices/GuestDevices.h"

#include "app/guestdevices/BlockDeviceModels.h"
#include "app/qmp/QmpError.h"
#include "block/filter/ThrottleFilter.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::guestdev {

namespace {

bool isVirtioBlk(const std::string& driver) {
    return driver.rfind("virtio-blk", 0) == 0;
}

std::string modelBus(const std::string& driver) {
    for (const BlockDeviceModel& m : blockDeviceModels())
        if (m.name == driver)
            return m.bus;
    return "";
}

} // namespace

std::shared_ptr<block::BlockDriver>
GuestDevices::guestImage(const qmp::QmpMachineDisk& disk,
                         std::shared_ptr<block::BlockDriver> image) {
    if (!disk.throttleGroup)
        return image;
    return std::make_shared<block::ThrottleFilter>(std::move(image), disk.throttleGroup,
                                                   disk.throttleGroupName);
}

void GuestDevices::addDriveDisk(const qmp::QmpMachineDisk& disk, bool readOnly) {
    unsigned slot = freeSlot();
    plug(slot, {disk.device, disk.handle, readOnly});
    disks_.push_back({disk.qomPath, slot, "", "", true});
}

void GuestDevices::addPresentDisk(const qmp::QmpMachineDisk& disk, unsigned slot) {
    if (slot >= slotUsed_.size() || slotUsed_[slot])
        throw std::logic_error("GuestDevices: slot " + std::to_string(slot) +
                               " of a present disk is taken or out of range");
    slotUsed_[slot] = true;
    disks_.push_back({disk.qomPath, slot, "", "", true, false});
}

const GuestDevices::Controller* GuestDevices::controllerFor(const DeviceOption& d) const {
    if (modelBus(d.driver) != "SCSI")
        return nullptr; // the board takes its other disks without a controller
    if (!d.bus.empty()) {
        for (const Controller& c : controllers_)
            if (c.bus() == d.bus)
                return &c;
        throw std::runtime_error("Bus '" + d.bus + "' not found");
    }
    // Like QEMU, the first SCSI bus there is; with none the board takes the disk on its own.
    return controllers_.empty() ? nullptr : &controllers_.front();
}

void GuestDevices::checkNodeUse(const std::string& nodeName, const std::string& qdev, bool writes,
                                const std::string& iothread,
                                const std::vector<qmp::QmpMachineDisk>& disks) const {
    for (const qmp::QmpMachineDisk& other : disks) {
        if (other.nodeName != nodeName || other.qomPath.empty() || !other.handle)
            continue;
        auto rec = std::find_if(disks_.begin(), disks_.end(),
                                [&](const Disk& x) { return x.qomPath == other.qomPath; });
        std::string otherThread = rec == disks_.end() ? "" : rec->iothread;
        // A node is in one AioContext: a second device from another iothread cannot move it.
        if (otherThread != iothread)
            throw std::runtime_error("Cannot change iothread of active block backend");
        if (writes)
            throw std::runtime_error("Permission conflict on node '" + nodeName +
                                     "': permissions 'write' are both required by block device '" +
                                     other.qdev + "' (uses node '" + nodeName +
                                     "' as 'root' child) and unshared by block device '" + qdev +
                                     "' (uses node '" + nodeName + "' as 'root' child).");
    }
}

unsigned GuestDevices::freeSlot() const {
    for (unsigned i = 0; i < slotUsed_.size(); ++i)
        if (!slotUsed_[i])
            return i;
    throw std::runtime_error("the e2k-vm board has no free block device slot (it has " +
                             std::to_string(slotUsed_.size()) + ")");
}

void GuestDevices::plug(unsigned slot, const emu::MachineDisk& disk) {
    if (runner_) {
        runner_->runOnMachine([&](emu::Machine& m) { m.plugDisk(slot, disk); });
    } else {
        if (!config_ || config_->disks.size() != slot)
            throw std::logic_error(
                "GuestDevices: a disk before the machine must take the next slot");
        config_->disks.push_back(disk);
    }
    slotUsed_[slot] = true;
}

void GuestDevices::add(const DeviceOption& d, std::vector<qmp::QmpMachineDisk>& disks) {
    if (!d.id.empty()) {
        bool taken = std::any_of(controllers_.begin(), controllers_.end(),
                                 [&](const Controller& c) { return c.id == d.id; }) ||
                     std::any_of(disks.begin(), disks.end(),
                                 [&](const qmp::QmpMachineDisk& x) { return x.deviceId == d.id; });
        if (taken)
            throw std::runtime_error("Duplicate device ID '" + d.id + "'");
    }
    if (!d.iothread.empty() && (!iothreads_ || !iothreads_->count(d.iothread)))
        throw qmp::QmpError("Device '" + d.iothread + "' not found", "DeviceNotFound");
    // The device's QOM path; an anonymous one takes its number once it exists.
    const std::string path =
        d.id.empty() ? "/machine/peripheral-anon/device[" + std::to_string(nextAnonymous_) + "]"
                     : "/machine/peripheral/" + d.id;
    if (d.drive.empty()) { // a controller
        controllers_.push_back({d.id, path, d.driver, d.iothread});
        nextAnonymous_ += d.id.empty();
        return;
    }
    const Controller* controller = controllerFor(d);

    auto disk = std::find_if(disks.begin(), disks.end(), [&](const qmp::QmpMachineDisk& x) {
        return !x.device.empty() && x.device == d.drive;
    });
    std::shared_ptr<vm::BlockNode> node;
    if (disk != disks.end()) {
        if (!disk->qomPath.empty())
            throw std::runtime_error("Property '" + d.driver + ".drive' can't take value '" +
                                     d.drive + "', it's in use");
        if (disk->nodeName.empty())
            throw std::runtime_error("Device needs media, but drive is empty");
        node = nodes_.find(disk->nodeName);
    } else {
        node = nodes_.find(d.drive);
    }
    if (!node) // (virtio-blk-pci's drive property is its virtio-blk-device's)
        throw std::runtime_error("Property '" +
                                 (d.driver == "virtio-blk-pci" ? "virtio-blk-device" : d.driver) +
                                 ".drive' can't find value '" + d.drive + "'");
    const bool virtio = isVirtioBlk(d.driver);
    const std::string iothread = controller ? controller->iothread : d.iothread;
    // query-block's qdev: the device's id, or the QOM path of the virtio backend.
    const std::string qdev = virtio ? path + "/virtio-backend" : (d.id.empty() ? path : d.id);
    checkNodeUse(node->name, qdev, !node->readOnly, iothread, disks);
    const unsigned slot = freeSlot();

    qmp::QmpMachineDisk entry =
        disk != disks.end() ? *disk : qmp::QmpMachineDisk{"", node->name, "", false};
    entry.qdev = qdev;
    entry.qomPath = path;
    entry.removable = false;    // the board's disk: no tray
    if (d.writeCache != "auto") // the device's own setting wins over the drive's
        entry.writeback = d.writeCache == "on";
    entry.deviceId = d.id;
    entry.user = "device '" + (d.id.empty() ? qdev : d.id) + "'";
    entry.handle = std::make_shared<block::BlockHandle>(guestImage(entry, node->image), false);
    plug(slot, {d.id.empty() ? node->name : d.id, entry.handle, node->readOnly});
    nodes_.setUser(node->name, entry.user, true);
    nextAnonymous_ += d.id.empty();
    disks_.push_back(
        {entry.qomPath, slot, iothread, controller ? controller->qomPath : "", virtio, true, true});
    if (disk != disks.end())
        *disk = std::move(entry);
    else
        disks.push_back(std::move(entry));
}

void GuestDevices::unplugDisk(const Disk& rec, std::vector<qmp::QmpMachineDisk>& disks,
                              std::vector<qmp::QmpDeletedDevice>& deleted) {
    if (runner_)
        runner_->runOnMachine([&](emu::Machine& m) { m.unplugDisk(rec.slot); });
    slotUsed_[rec.slot] = false;
    auto entry = std::find_if(disks.begin(), disks.end(), [&](const qmp::QmpMachineDisk& x) {
        return x.qomPath == rec.qomPath;
    });
    if (entry == disks.end())
        return;
    if (rec.virtio)
        deleted.push_back({"", rec.qomPath + "/virtio-backend"});
    deleted.push_back({entry->deviceId, rec.qomPath});
    nodes_.setUser(entry->nodeName, entry->user, false);
    const std::string drive = entry->device, nodeName = entry->nodeName;
    disks.erase(entry);
    if (!drive.empty() && rec.dropsDrive) {
        // A -drive goes with its device, as QEMU's: its node closes unless another user (an
        // export, a job) still holds it; it then stays as a node of its own.
        try {
            nodes_.remove(nodeName);
        } catch (const std::exception&) {
        }
    }
}

std::vector<qmp::QmpDeletedDevice> GuestDevices::remove(const std::string& id,
                                                        std::vector<qmp::QmpMachineDisk>& disks) {
    std::vector<qmp::QmpDeletedDevice> deleted;
    auto controller = std::find_if(controllers_.begin(), controllers_.end(), [&](const auto& c) {
        return (!c.id.empty() && c.id == id) || c.qomPath == id;
    });
    if (controller != controllers_.end()) {
        const Controller gone = *controller;
        for (size_t i = 0; i < disks_.size();) {
            if (disks_[i].controller == gone.qomPath) {
                unplugDisk(disks_[i], disks, deleted);
                disks_.erase(disks_.begin() + long(i));
            } else {
                ++i;
            }
        }
        controllers_.erase(controller);
        deleted.push_back({"", gone.qomPath + "/virtio-backend"});
        deleted.push_back({gone.id, gone.qomPath});
        return deleted;
    }
    const qmp::QmpMachineDisk* entry = qmp::findGuestDevice(disks, id);
    auto rec = entry ? std::find_if(disks_.begin(), disks_.end(),
                                    [&](const Disk& x) { return x.qomPath == entry->qomPath; })
                     : disks_.end();
    if (rec == disks_.end())
        throw qmp::QmpError("Device '" + id + "' not found", "DeviceNotFound");
    unplugDisk(*rec, disks, deleted);
    disks_.erase(rec);
    return deleted;
}

void GuestDevices::releaseAll(std::vector<qmp::QmpMachineDisk>& disks) {
    for (const Disk& rec : disks_) {
        if (!rec.added)
            continue;
        auto entry = std::find_if(disks.begin(), disks.end(), [&](const qmp::QmpMachineDisk& x) {
            return x.qomPath == rec.qomPath;
        });
        if (entry == disks.end())
            continue;
        nodes_.setUser(entry->nodeName, entry->user, false);
        disks.erase(entry);
    }
    disks_.clear();
    controllers_.clear();
    slotUsed_.fill(false);
}

} // namespace e2kvm::guestdev

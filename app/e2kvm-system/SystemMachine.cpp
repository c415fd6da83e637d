#include "app/e2kvm-system/SystemMachine.h"

#include "app/guestdevices/BlockDeviceModels.h"
#include "app/qmp/QmpError.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::sys {

SystemMachine::SystemMachine(emu::MachineRunner& runner, std::vector<qmp::QmpMachineDisk> disks,
                             std::string name)
    : RunnerBackedMachine(runner), disks_(std::move(disks)), name_(std::move(name)) {}

std::string SystemMachine::name() const {
    return name_;
}

std::vector<qmp::QmpMachineDisk> SystemMachine::disks() const {
    std::lock_guard lock(disksMutex_);
    return disks_;
}

bool SystemMachine::setDiskNode(const std::string& qomPath, const std::string& nodeName) {
    std::lock_guard lock(disksMutex_);
    return qmp::setNodeOfDevice(disks_, qomPath, nodeName);
}

bool SystemMachine::updateDisk(const std::string& key,
                               const std::function<void(qmp::QmpMachineDisk&)>& change) {
    std::lock_guard lock(disksMutex_);
    return qmp::updateDiskOfDevice(disks_, key, change);
}

void SystemMachine::setDriveHotplug(DriveOpener open, DriveCloser close) {
    std::lock_guard lock(disksMutex_);
    openDrive_ = std::move(open);
    closeDrive_ = std::move(close);
}

void SystemMachine::addDrive(const std::string& options) {
    std::vector<std::string> ids;
    DriveOpener open;
    {
        std::lock_guard lock(disksMutex_);
        if (!openDrive_)
            return RunnerBackedMachine::addDrive(options);
        open = openDrive_;
        for (const qmp::QmpMachineDisk& d : disks_)
            ids.push_back(d.device);
    }
    qmp::QmpMachineDisk drive = open(options, ids); // QMP commands run one at a time
    std::lock_guard lock(disksMutex_);
    disks_.push_back(std::move(drive));
}

void SystemMachine::deleteDrive(const std::string& id) {
    qmp::QmpMachineDisk drive;
    DriveCloser close;
    {
        std::lock_guard lock(disksMutex_);
        if (!closeDrive_)
            return RunnerBackedMachine::deleteDrive(id);
        auto it = std::find_if(disks_.begin(), disks_.end(),
                               [&](const qmp::QmpMachineDisk& d) { return d.device == id; });
        if (it == disks_.end())
            throw std::runtime_error("Device '" + id + "' not found");
        if (!it->qomPath.empty() || it->handle)
            throw std::runtime_error("e2kvm cannot delete drive '" + id +
                                     "': a guest device uses it");
        drive = *it;
        disks_.erase(it);
        close = closeDrive_;
    }
    close(drive);
}

void SystemMachine::setDeviceHotplug(guestdev::GuestDevices* devices) {
    std::lock_guard lock(disksMutex_);
    devices_ = devices;
}

// QMP commands run one at a time: the disks are changed on a copy, outside the lock (plugging
// waits for the machine thread), and put back.
void SystemMachine::addDevice(const std::string& spec) {
    std::vector<qmp::QmpMachineDisk> disks;
    guestdev::GuestDevices* devices;
    {
        std::lock_guard lock(disksMutex_);
        if (!devices_)
            return RunnerBackedMachine::addDevice(spec);
        devices = devices_;
        disks = disks_;
    }
    devices->add(guestdev::parseDeviceAdd(spec), disks);
    std::lock_guard lock(disksMutex_);
    disks_ = std::move(disks);
}

std::vector<qmp::QmpDeletedDevice> SystemMachine::deleteDevice(const std::string& id) {
    std::vector<qmp::QmpMachineDisk> disks;
    guestdev::GuestDevices* devices;
    {
        std::lock_guard lock(disksMutex_);
        if (!devices_)
            return RunnerBackedMachine::deleteDevice(id);
        devices = devices_;
        disks = disks_;
    }
    std::vector<qmp::QmpDeletedDevice> deleted = devices->remove(id, disks);
    std::lock_guard lock(disksMutex_);
    disks_ = std::move(disks);
    return deleted;
}

} // namespace e2kvm::sys

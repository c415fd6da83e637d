#include "app/e2kvm-system/SystemMachine.h"

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

} // namespace e2kvm::sys

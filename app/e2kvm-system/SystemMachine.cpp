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

bool SystemMachine::setDiskTrayOpen(const std::string& key, bool open) {
    std::lock_guard lock(disksMutex_);
    return qmp::setTrayOfDevice(disks_, key, open);
}

} // namespace e2kvm::sys

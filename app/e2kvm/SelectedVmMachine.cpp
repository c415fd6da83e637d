#include "app/e2kvm/SelectedVmMachine.h"

namespace e2kvm::app {

void SelectedVmMachine::setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                                  std::vector<qmp::QmpMachineDisk> disks) {
    std::lock_guard lock(mutex_);
    setCurrentRunner(std::move(runner));
    name_ = name.empty() ? "e2kvm" : std::move(name);
    disks_ = std::move(disks);
    shutdownReported_ = false;
}

bool SelectedVmMachine::claimShutdown() {
    std::lock_guard lock(mutex_);
    if (shutdownReported_)
        return false;
    shutdownReported_ = true;
    return true;
}

void SelectedVmMachine::machineEvent(const emu::MachineEvent& event) {
    if (event.kind == emu::MachineEvent::Reset || event.kind == emu::MachineEvent::Resume) {
        std::lock_guard lock(mutex_);
        shutdownReported_ = false; // the VM runs again: its next shutdown is news
    }
    if (event.kind == emu::MachineEvent::Shutdown && !claimShutdown())
        return;
    relay(event);
}

std::string SelectedVmMachine::name() const {
    std::lock_guard lock(mutex_);
    return name_;
}

void SelectedVmMachine::quit(const std::string& reason) {
    auto r = currentRunner();
    if (r && r->state() != emu::RunState::Shutdown)
        r->quit();
    if (claimShutdown())
        report(qmp::QmpMachineEvent{qmp::QmpMachineEvent::Shutdown, false, reason});
}

std::vector<qmp::QmpMachineDisk> SelectedVmMachine::disks() const {
    std::lock_guard lock(mutex_);
    return disks_;
}

} // namespace e2kvm::app

#include "app/e2kvm/SelectedVmMachine.h"

namespace e2kvm::app {

void SelectedVmMachine::setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                                  std::vector<qmp::QmpMachineDisk> disks) {
    std::lock_guard lock(mutex_);
    setCurrentRunner(std::move(runner));
    name_ = name.empty() ? "e2kvm" : std::move(name);
    disks_ = std::move(disks);
    shutdownReported_ = false;
    runnerChanged_.notify_all();
}

void SelectedVmMachine::setStarter(std::function<void()> start,
                                   std::chrono::milliseconds startTimeout) {
    std::lock_guard lock(mutex_);
    starter_ = std::move(start);
    startTimeout_ = startTimeout;
}

void SelectedVmMachine::cont() {
    if (currentRunner()) {
        RunnerBackedMachine::cont();
        return;
    }
    std::function<void()> start;
    std::chrono::milliseconds timeout{0};
    {
        std::lock_guard lock(mutex_);
        start = starter_;
        timeout = startTimeout_;
    }
    if (!start)
        return;
    start();
    // The GUI selects the new VM's runner before starting it: wait until one has left
    // prelaunch. The runner reports no event for its start, hence the short re-checks.
    auto started = [this] {
        auto r = currentRunner();
        return r && r->state() != emu::RunState::Prelaunch;
    };
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    while (!started() && std::chrono::steady_clock::now() < deadline)
        runnerChanged_.wait_for(lock, std::chrono::milliseconds(10));
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
        runnerChanged_.notify_all();
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

bool SelectedVmMachine::setDiskNode(const std::string& qomPath, const std::string& nodeName) {
    std::lock_guard lock(mutex_);
    return qmp::setNodeOfDevice(disks_, qomPath, nodeName);
}

bool SelectedVmMachine::updateDisk(const std::string& key,
                                   const std::function<void(qmp::QmpMachineDisk&)>& change) {
    std::lock_guard lock(mutex_);
    return qmp::updateDiskOfDevice(disks_, key, change);
}

} // namespace e2kvm::app

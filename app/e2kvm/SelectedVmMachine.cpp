#include "app/e2kvm/SelectedVmMachine.h"

#include "app/guestdevices/BlockDeviceModels.h"
#include "app/qmp/QmpError.h"

#include <algorithm>

namespace e2kvm::app {

void SelectedVmMachine::setIothreads(const std::set<std::string>* iothreads) {
    std::lock_guard devicesLock(deviceMutex_);
    std::lock_guard lock(mutex_);
    iothreads_ = iothreads;
    for (const std::shared_ptr<Run>& run : runs_)
        run->devices->setIothreads(iothreads);
}

void SelectedVmMachine::setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                                  std::vector<qmp::QmpMachineDisk> disks) {
    std::shared_ptr<Run> run;
    if (!runner && !disks.empty()) { // disks without a machine: shown, nothing to plug into
        run = std::make_shared<Run>();
        run->disks = std::move(disks);
    }
    if (runner) {
        std::lock_guard lock(mutex_);
        auto known = std::find_if(runs_.begin(), runs_.end(),
                                  [&](const auto& r) { return r->runner == runner; });
        if (known != runs_.end())
            run = *known;
    }
    if (runner && !run) {
        run = std::make_shared<Run>();
        run->runner = runner;
        run->devices = std::make_unique<guestdev::GuestDevices>(nodes_);
        run->devices->setRunner(runner.get());
        for (size_t i = 0; i < disks.size(); ++i)
            run->devices->addPresentDisk(disks[i], unsigned(i));
        // Hot-plugged anonymous devices are numbered after the VM's own disks.
        run->devices->setNextAnonymous(unsigned(disks.size()));
        run->disks = std::move(disks);
        std::lock_guard lock(mutex_);
        run->devices->setIothreads(iothreads_);
        runs_.push_back(run);
    }
    std::lock_guard lock(mutex_);
    setCurrentRunner(std::move(runner));
    name_ = name.empty() ? "e2kvm" : std::move(name);
    run_ = std::move(run);
    shutdownReported_ = false;
    runnerChanged_.notify_all();
}

std::shared_ptr<SelectedVmMachine::Run>
SelectedVmMachine::deviceRun(const std::string& command) const {
    std::lock_guard lock(mutex_);
    const bool stopped = run_ && run_->runner &&
                         (run_->ended || run_->runner->state() == emu::RunState::Shutdown ||
                          run_->runner->state() == emu::RunState::InternalError);
    if (run_ && run_->runner && !stopped)
        return run_;
    if (!run_ || !run_->runner)
        throw qmp::QmpError(command +
                            ": no VM runs (the selected VM is not started; cont starts it)");
    throw qmp::QmpError(command + ": VM '" + name_ + "' has stopped");
}

void SelectedVmMachine::addDevice(const std::string& spec) {
    std::lock_guard devicesLock(deviceMutex_);
    std::shared_ptr<Run> run = deviceRun("device_add");
    guestdev::DeviceOption d = guestdev::parseDeviceAdd(spec);
    std::vector<qmp::QmpMachineDisk> disks;
    {
        std::lock_guard lock(mutex_);
        disks = run->disks;
    }
    // Plugging waits for the machine thread: outside mutex_, on a copy of the disks.
    run->devices->add(d, disks);
    std::lock_guard lock(mutex_);
    run->disks = std::move(disks);
}

std::vector<qmp::QmpDeletedDevice> SelectedVmMachine::deleteDevice(const std::string& id) {
    std::lock_guard devicesLock(deviceMutex_);
    std::shared_ptr<Run> run;
    {
        std::lock_guard lock(mutex_);
        run = run_;
    }
    // With no VM there is no device to find (query-block lists none either).
    if (!run || !run->runner)
        throw qmp::QmpError("Device '" + id + "' not found", "DeviceNotFound");
    run = deviceRun("device_del");
    std::vector<qmp::QmpMachineDisk> disks;
    {
        std::lock_guard lock(mutex_);
        disks = run->disks;
    }
    std::vector<qmp::QmpDeletedDevice> deleted = run->devices->remove(id, disks);
    std::lock_guard lock(mutex_);
    run->disks = std::move(disks);
    return deleted;
}

void SelectedVmMachine::endRun(const emu::MachineRunner* runner) {
    std::lock_guard devicesLock(deviceMutex_);
    std::shared_ptr<Run> run;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(runs_.begin(), runs_.end(),
                               [&](const auto& r) { return r->runner.get() == runner; });
        if (it == runs_.end())
            return;
        run = *it;
        runs_.erase(it);
    }
    std::vector<qmp::QmpMachineDisk> disks;
    {
        std::lock_guard lock(mutex_);
        disks = run->disks;
    }
    run->devices->releaseAll(disks);
    std::lock_guard lock(mutex_);
    run->disks = std::move(disks);
    run->ended = true;
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
    return run_ ? run_->disks : std::vector<qmp::QmpMachineDisk>{};
}

bool SelectedVmMachine::setDiskNode(const std::string& qomPath, const std::string& nodeName) {
    std::lock_guard lock(mutex_);
    return run_ && qmp::setNodeOfDevice(run_->disks, qomPath, nodeName);
}

bool SelectedVmMachine::updateDisk(const std::string& key,
                                   const std::function<void(qmp::QmpMachineDisk&)>& change) {
    std::lock_guard lock(mutex_);
    return run_ && qmp::updateDiskOfDevice(run_->disks, key, change);
}

} // namespace e2kvm::app

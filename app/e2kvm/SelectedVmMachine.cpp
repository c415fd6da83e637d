#include "app/e2kvm/SelectedVmMachine.h"

#include "emu/machine/MachineRunner.h"

namespace e2kvm::app {

void SelectedVmMachine::setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                                  std::vector<qmp::QmpMachineDisk> disks) {
    std::lock_guard lock(mutex_);
    runner_ = std::move(runner);
    name_ = name.empty() ? "e2kvm" : std::move(name);
    disks_ = std::move(disks);
    quitReported_ = false;
}

std::shared_ptr<emu::MachineRunner> SelectedVmMachine::current() const {
    std::lock_guard lock(mutex_);
    return runner_;
}

void SelectedVmMachine::machineEvent(const emu::MachineEvent& event) {
    qmp::QmpMachineEvent out;
    switch (event.kind) {
    case emu::MachineEvent::Stop:
        out.kind = qmp::QmpMachineEvent::Stop;
        break;
    case emu::MachineEvent::Resume:
        out.kind = qmp::QmpMachineEvent::Resume;
        break;
    case emu::MachineEvent::Reset:
        out.kind = qmp::QmpMachineEvent::Reset;
        out.guest = event.detail.rfind("guest", 0) == 0;
        out.reason = event.detail;
        break;
    case emu::MachineEvent::Shutdown:
        out.kind = qmp::QmpMachineEvent::Shutdown;
        out.guest = event.detail.rfind("guest", 0) == 0;
        out.reason = event.detail;
        break;
    case emu::MachineEvent::Error:
        return; // QMP reports the run state; there is no event for a guest fault here
    }
    std::function<void(const qmp::QmpMachineEvent&)> handler;
    {
        std::lock_guard lock(mutex_);
        if (out.kind == qmp::QmpMachineEvent::Shutdown) {
            if (quitReported_)
                return;
            quitReported_ = true;
        }
        handler = handler_;
    }
    if (handler)
        handler(out);
}

std::string SelectedVmMachine::status() const {
    auto r = current();
    return r ? emu::runStateName(r->state()) : "prelaunch";
}

std::string SelectedVmMachine::name() const {
    std::lock_guard lock(mutex_);
    return name_;
}

void SelectedVmMachine::stop() {
    if (auto r = current())
        r->pause();
}

void SelectedVmMachine::cont() {
    if (auto r = current())
        r->resume();
}

void SelectedVmMachine::reset() {
    if (auto r = current())
        r->reset();
}

void SelectedVmMachine::quit(const std::string& reason) {
    auto r = current();
    if (r && r->state() != emu::RunState::Shutdown)
        r->quit();
    std::function<void(const qmp::QmpMachineEvent&)> handler;
    {
        std::lock_guard lock(mutex_);
        if (quitReported_)
            return;
        quitReported_ = true;
        handler = handler_;
    }
    if (handler)
        handler(qmp::QmpMachineEvent{qmp::QmpMachineEvent::Shutdown, false, reason});
}

std::shared_ptr<const emu::FrameImage> SelectedVmMachine::screen() const {
    auto r = current();
    return r ? r->display().latest() : nullptr;
}

std::vector<qmp::QmpMachineDisk> SelectedVmMachine::disks() const {
    std::lock_guard lock(mutex_);
    return disks_;
}

void SelectedVmMachine::setEventHandler(std::function<void(const qmp::QmpMachineEvent&)> handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

} // namespace e2kvm::app

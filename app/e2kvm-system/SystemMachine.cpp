#include "app/e2kvm-system/SystemMachine.h"

namespace e2kvm::sys {

SystemMachine::SystemMachine(emu::MachineRunner& runner, std::vector<qmp::QmpMachineDisk> disks,
                             std::string name)
    : runner_(runner), disks_(std::move(disks)), name_(std::move(name)) {
    runner_.setEventCallback([this](const emu::MachineEvent& e) { onRunnerEvent(e); });
}

std::string SystemMachine::status() const {
    return emu::runStateName(runner_.state());
}

std::string SystemMachine::name() const {
    return name_;
}

void SystemMachine::stop() {
    runner_.pause();
}

void SystemMachine::cont() {
    runner_.resume();
}

void SystemMachine::reset() {
    runner_.reset();
}

void SystemMachine::quit(const std::string& reason) {
    {
        std::lock_guard lock(mutex_);
        if (quitReason_.empty())
            quitReason_ = reason;
    }
    runner_.quit();
}

std::shared_ptr<const emu::FrameImage> SystemMachine::screen() const {
    return runner_.display().latest();
}

std::vector<qmp::QmpMachineDisk> SystemMachine::disks() const {
    return disks_;
}

void SystemMachine::setEventHandler(std::function<void(const qmp::QmpMachineEvent&)> handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

void SystemMachine::setObserver(std::function<void(const emu::MachineEvent&)> observer) {
    std::lock_guard lock(mutex_);
    observer_ = std::move(observer);
}

qmp::QmpMachineEvent SystemMachine::translate(const emu::MachineEvent& e,
                                              const std::string& quitReason) {
    qmp::QmpMachineEvent q;
    switch (e.kind) {
    case emu::MachineEvent::Stop:
    case emu::MachineEvent::Error:
        q.kind = qmp::QmpMachineEvent::Stop;
        break;
    case emu::MachineEvent::Resume:
        q.kind = qmp::QmpMachineEvent::Resume;
        break;
    case emu::MachineEvent::Reset:
        q.kind = qmp::QmpMachineEvent::Reset;
        q.guest = e.detail.rfind("guest", 0) == 0;
        q.reason = e.detail;
        break;
    case emu::MachineEvent::Shutdown:
        q.kind = qmp::QmpMachineEvent::Shutdown;
        q.guest = e.detail.rfind("guest", 0) == 0;
        q.reason = (!q.guest && !quitReason.empty()) ? quitReason : e.detail;
        break;
    }
    return q;
}

void SystemMachine::onRunnerEvent(const emu::MachineEvent& e) {
    std::function<void(const qmp::QmpMachineEvent&)> handler;
    std::function<void(const emu::MachineEvent&)> observer;
    std::string reason;
    {
        std::lock_guard lock(mutex_);
        handler = handler_;
        observer = observer_;
        reason = quitReason_;
    }
    if (handler)
        handler(translate(e, reason));
    if (observer)
        observer(e);
}

} // namespace e2kvm::sys

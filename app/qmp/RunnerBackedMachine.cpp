#include "app/qmp/RunnerBackedMachine.h"

namespace e2kvm::qmp {

RunnerBackedMachine::RunnerBackedMachine() = default;

RunnerBackedMachine::RunnerBackedMachine(emu::MachineRunner& runner)
    : runner_(&runner, [](emu::MachineRunner*) {}) {
    runner.setEventCallback([events = events_](const emu::MachineEvent& e) { events->relay(e); });
}

RunnerBackedMachine::~RunnerBackedMachine() {
    std::lock_guard lock(events_->mutex);
    events_->handler = nullptr;
    events_->observer = nullptr;
}

QmpMachineEvent RunnerBackedMachine::translate(const emu::MachineEvent& e,
                                               const std::string& quitReason) {
    QmpMachineEvent q;
    switch (e.kind) {
    case emu::MachineEvent::Stop:
    case emu::MachineEvent::Error:
        q.kind = QmpMachineEvent::Stop;
        break;
    case emu::MachineEvent::Resume:
        q.kind = QmpMachineEvent::Resume;
        break;
    case emu::MachineEvent::Reset:
        q.kind = QmpMachineEvent::Reset;
        q.guest = e.detail.rfind("guest", 0) == 0;
        q.reason = e.detail;
        break;
    case emu::MachineEvent::Shutdown:
        q.kind = QmpMachineEvent::Shutdown;
        q.guest = e.detail.rfind("guest", 0) == 0;
        q.reason = (!q.guest && !quitReason.empty()) ? quitReason : e.detail;
        break;
    }
    return q;
}

void RunnerBackedMachine::Events::relay(const emu::MachineEvent& e) {
    std::lock_guard lock(mutex);
    if (handler)
        handler(translate(e, quitReason));
    if (observer)
        observer(e);
}

void RunnerBackedMachine::relay(const emu::MachineEvent& e) {
    events_->relay(e);
}

void RunnerBackedMachine::report(const QmpMachineEvent& e) {
    std::lock_guard lock(events_->mutex);
    if (events_->handler)
        events_->handler(e);
}

void RunnerBackedMachine::setEventHandler(std::function<void(const QmpMachineEvent&)> handler) {
    std::lock_guard lock(events_->mutex);
    events_->handler = std::move(handler);
}

void RunnerBackedMachine::setObserver(std::function<void(const emu::MachineEvent&)> observer) {
    std::lock_guard lock(events_->mutex);
    events_->observer = std::move(observer);
}

std::shared_ptr<emu::MachineRunner> RunnerBackedMachine::currentRunner() const {
    std::lock_guard lock(runnerMutex_);
    return runner_;
}

void RunnerBackedMachine::setCurrentRunner(std::shared_ptr<emu::MachineRunner> runner) {
    std::lock_guard lock(runnerMutex_);
    runner_ = std::move(runner);
}

std::string RunnerBackedMachine::status() const {
    auto r = currentRunner();
    return r ? emu::runStateName(r->state()) : "prelaunch";
}

void RunnerBackedMachine::stop() {
    if (auto r = currentRunner())
        r->pause();
}

void RunnerBackedMachine::cont() {
    if (auto r = currentRunner())
        r->resume();
}

void RunnerBackedMachine::reset() {
    if (auto r = currentRunner())
        r->reset();
}

void RunnerBackedMachine::quit(const std::string& reason) {
    {
        std::lock_guard lock(events_->mutex);
        if (events_->quitReason.empty())
            events_->quitReason = reason;
    }
    if (auto r = currentRunner())
        r->quit(); // reports SHUTDOWN itself, once
}

void RunnerBackedMachine::saveState(const StateStore& store) {
    auto r = currentRunner();
    if (!r)
        return QmpMachine::saveState(store);
    r->saveState(store);
}

void RunnerBackedMachine::loadState(const std::function<std::vector<uint8_t>()>& fetch) {
    auto r = currentRunner();
    if (!r)
        return QmpMachine::loadState(fetch);
    r->loadState(fetch);
}

std::shared_ptr<const emu::FrameImage> RunnerBackedMachine::screen() const {
    auto r = currentRunner();
    return r ? r->display().latest() : nullptr;
}

} // namespace e2kvm::qmp

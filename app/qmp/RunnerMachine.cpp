#include "app/qmp/RunnerMachine.h"

namespace e2kvm::qmp {

RunnerMachine::RunnerMachine(emu::MachineRunner& runner, const vm::BlockNodeTable* nodes)
    : runner_(runner), nodes_(nodes), shared_(std::make_shared<Shared>()) {
    std::shared_ptr<Shared> shared = shared_;
    runner_.setEventCallback([shared](const emu::MachineEvent& e) {
        QmpMachineEvent q;
        switch (e.kind) {
        case emu::MachineEvent::Stop:
            q.kind = QmpMachineEvent::Stop;
            break;
        case emu::MachineEvent::Resume:
            q.kind = QmpMachineEvent::Resume;
            break;
        case emu::MachineEvent::Reset:
            q.kind = QmpMachineEvent::Reset;
            q.reason = e.detail;
            q.guest = e.detail.rfind("guest-", 0) == 0;
            break;
        case emu::MachineEvent::Shutdown:
            q.kind = QmpMachineEvent::Shutdown;
            q.reason = e.detail;
            q.guest = e.detail.rfind("guest-", 0) == 0;
            break;
        case emu::MachineEvent::Error:
            // The machine stopped on a fault: QMP clients see it stop (status internal-error).
            q.kind = QmpMachineEvent::Stop;
            break;
        }
        std::lock_guard lock(shared->mutex);
        if (shared->handler)
            shared->handler(q);
    });
}

RunnerMachine::~RunnerMachine() {
    std::lock_guard lock(shared_->mutex);
    shared_->handler = nullptr;
}

std::string RunnerMachine::status() const {
    return emu::runStateName(runner_.state());
}

std::string RunnerMachine::name() const {
    return runner_.config().name;
}

void RunnerMachine::stop() {
    runner_.pause();
}

void RunnerMachine::cont() {
    runner_.resume();
}

void RunnerMachine::reset() {
    runner_.reset();
}

void RunnerMachine::quit(const std::string&) {
    // The runner reports SHUTDOWN "host-qmp-quit" itself, once.
    runner_.quit();
}

std::shared_ptr<const emu::FrameImage> RunnerMachine::screen() const {
    return runner_.display().latest();
}

std::vector<QmpMachineDisk> RunnerMachine::disks() const {
    std::vector<QmpMachineDisk> out;
    for (const emu::MachineDisk& d : runner_.config().disks) {
        QmpMachineDisk q;
        q.device = d.id;
        if (nodes_)
            for (const auto& node : nodes_->list())
                if (node->image == d.image)
                    q.nodeName = node->name;
        out.push_back(std::move(q));
    }
    return out;
}

void RunnerMachine::setEventHandler(std::function<void(const QmpMachineEvent&)> handler) {
    std::lock_guard lock(shared_->mutex);
    shared_->handler = std::move(handler);
}

} // namespace e2kvm::qmp

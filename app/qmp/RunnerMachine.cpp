#include "app/qmp/RunnerMachine.h"

namespace e2kvm::qmp {

RunnerMachine::RunnerMachine(emu::MachineRunner& runner, const vm::BlockNodeTable* nodes)
    : RunnerBackedMachine(runner), runner_(runner), nodes_(nodes) {}

std::string RunnerMachine::name() const {
    return runner_.config().name;
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

} // namespace e2kvm::qmp

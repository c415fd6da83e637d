#pragma once
// RunnerMachine: QmpMachine over an emu::MachineRunner that the embedder owns (machine-less
// tools, tests): named after its MachineConfig, its disks after their BlockNodeTable nodes.
// Built into e2kvm_qmp when the e2kvm_machine library exists.
#include "app/qmp/RunnerBackedMachine.h"
#include "app/vmcore/BlockNodeTable.h"

namespace e2kvm::qmp {

class RunnerMachine : public RunnerBackedMachine {
public:
    // `nodes` (may be null) names the disks' nodes in query-block. The runner must outlive
    // this object's use; events arriving after destruction are dropped.
    explicit RunnerMachine(emu::MachineRunner& runner, const vm::BlockNodeTable* nodes = nullptr);

    std::string name() const override;
    std::vector<QmpMachineDisk> disks() const override;

private:
    emu::MachineRunner& runner_;
    const vm::BlockNodeTable* nodes_;
};

} // namespace e2kvm::qmp

#pragma once
// RunnerMachine: QmpMachine over an emu::MachineRunner (state, stop/cont/reset/quit, the
// screen, its disks named after their BlockNodeTable nodes, and its events). Built into
// e2kvm_qmp when the e2kvm_machine library exists.
#include "app/qmp/QmpMachine.h"
#include "app/vmcore/BlockNodeTable.h"
#include "emu/machine/MachineRunner.h"

#include <memory>
#include <mutex>

namespace e2kvm::qmp {

class RunnerMachine : public QmpMachine {
public:
    // `nodes` (may be null) names the disks' nodes in query-block. The runner must outlive
    // this object's use; events arriving after destruction are dropped.
    explicit RunnerMachine(emu::MachineRunner& runner, const vm::BlockNodeTable* nodes = nullptr);
    ~RunnerMachine() override;

    std::string status() const override;
    std::string name() const override;
    void stop() override;
    void cont() override;
    void reset() override;
    void quit(const std::string& reason) override;
    std::shared_ptr<const emu::FrameImage> screen() const override;
    std::vector<QmpMachineDisk> disks() const override;
    void setEventHandler(std::function<void(const QmpMachineEvent&)> handler) override;

private:
    struct Shared {
        std::mutex mutex;
        std::function<void(const QmpMachineEvent&)> handler;
    };
    emu::MachineRunner& runner_;
    const vm::BlockNodeTable* nodes_;
    std::shared_ptr<Shared> shared_;
};

} // namespace e2kvm::qmp

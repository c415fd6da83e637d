#pragma once
// SystemMachine: e2kvm-system's QMP view of its MachineRunner. Besides what QMP needs it lets
// the process observe the machine's events (power-off ends the process, STOP/RESUME change the
// window title) and gives SHUTDOWN the reason of whoever ended the VM ("host-ui",
// "host-signal"), where the runner alone would always say "host-qmp-quit".
#include "app/qmp/QmpMachine.h"
#include "emu/machine/MachineRunner.h"

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::sys {

class SystemMachine : public qmp::QmpMachine {
public:
    // Installs the runner's event callback: construct before runner.start().
    // `name` is what -name said ("" = none: query-name then returns {} as qemu-system does).
    SystemMachine(emu::MachineRunner& runner, std::vector<qmp::QmpMachineDisk> disks,
                  std::string name);

    std::string status() const override;
    std::string name() const override;
    void stop() override;
    void cont() override;
    void reset() override;
    void quit(const std::string& reason) override;
    std::shared_ptr<const emu::FrameImage> screen() const override;
    std::vector<qmp::QmpMachineDisk> disks() const override;
    void setEventHandler(std::function<void(const qmp::QmpMachineEvent&)> handler) override;

    // e2kvm-system's own observer, called on the machine thread after the QMP handler.
    void setObserver(std::function<void(const emu::MachineEvent&)> observer);

    // The QMP form of a runner event (faults are reported as STOP, as a guest that stops on
    // an internal error is in qemu-system). `quitReason` replaces the runner's generic
    // "host-qmp-quit" when the host ended the machine for another reason.
    static qmp::QmpMachineEvent translate(const emu::MachineEvent& e,
                                          const std::string& quitReason);

private:
    void onRunnerEvent(const emu::MachineEvent& e);

    emu::MachineRunner& runner_;
    std::vector<qmp::QmpMachineDisk> disks_;
    std::string name_;
    mutable std::mutex mutex_;
    std::function<void(const qmp::QmpMachineEvent&)> handler_;
    std::function<void(const emu::MachineEvent&)> observer_;
    std::string quitReason_;
};

} // namespace e2kvm::sys

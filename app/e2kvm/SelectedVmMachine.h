#pragma once
// SelectedVmMachine: the machine QMP (--qmp) talks to in the GUI: whichever VM the main window
// shows, as it changes. With no running VM the machine commands see "prelaunch" and do nothing.
#include "app/qmp/RunnerBackedMachine.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::app {

class SelectedVmMachine : public qmp::RunnerBackedMachine {
public:
    // Any thread. `runner` null: no VM.
    void setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                   std::vector<qmp::QmpMachineDisk> disks);
    // Forwards a machine event of the current VM to QMP (machine thread), as the other
    // adapters do (a fault is a STOP); one SHUTDOWN per run (until a reset or resume).
    void machineEvent(const emu::MachineEvent& event);

    std::string name() const override;
    // Ends the current VM if it runs; SHUTDOWN {guest: false, reason} goes out even with no VM,
    // unless the VM's SHUTDOWN already did.
    void quit(const std::string& reason) override;
    std::vector<qmp::QmpMachineDisk> disks() const override;

private:
    // True for the first SHUTDOWN since the VM was selected, reset or resumed.
    bool claimShutdown();

    mutable std::mutex mutex_;
    std::string name_ = "e2kvm";
    std::vector<qmp::QmpMachineDisk> disks_;
    bool shutdownReported_ = false;
};

} // namespace e2kvm::app

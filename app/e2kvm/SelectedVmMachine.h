#pragma once
// SelectedVmMachine: the machine QMP (--qmp) talks to in the GUI: whichever VM the main window
// shows, as it changes. With no running VM the machine commands see "prelaunch" and do nothing,
// except cont, which starts the selected VM (as cont after qemu-system -S).
#include "app/qmp/RunnerBackedMachine.h"

#include <chrono>
#include <condition_variable>
#include <functional>
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
    // How cont starts the selected VM when none runs: the GUI's Run, queued to its own thread
    // (called on the QMP thread; it must not wait for that thread). cont then waits, up to
    // `startTimeout`, until setRunner() brings a VM that has left prelaunch.
    void setStarter(std::function<void()> start,
                    std::chrono::milliseconds startTimeout = std::chrono::seconds(10));

    // With a VM: resumes it. Without: starts the selected VM through the starter (if any) and
    // returns once it runs, so the next query-status says "running", as QEMU's does.
    void cont() override;

    std::string name() const override;
    // Ends the current VM if it runs; SHUTDOWN {guest: false, reason} goes out even with no VM,
    // unless the VM's SHUTDOWN already did.
    void quit(const std::string& reason) override;
    std::vector<qmp::QmpMachineDisk> disks() const override;
    // After qom-set moved the selected VM's device at `qomPath` onto node `nodeName`.
    bool setDiskNode(const std::string& qomPath, const std::string& nodeName) override;
    bool updateDisk(const std::string& key,
                    const std::function<void(qmp::QmpMachineDisk&)>& change) override;

private:
    // True for the first SHUTDOWN since the VM was selected, reset or resumed.
    bool claimShutdown();

    mutable std::mutex mutex_;
    std::condition_variable runnerChanged_; // setRunner() and machine events
    std::function<void()> starter_;
    std::chrono::milliseconds startTimeout_{0};
    std::string name_ = "e2kvm";
    std::vector<qmp::QmpMachineDisk> disks_;
    bool shutdownReported_ = false;
};

} // namespace e2kvm::app

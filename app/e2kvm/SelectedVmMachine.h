#pragma once
// SelectedVmMachine: the machine QMP (--qmp) talks to in the GUI: whichever VM the main window
// shows, as it changes. With no running VM the machine commands see "prelaunch" and do nothing.
#include "app/qmp/QmpMachine.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::emu {
class MachineRunner;
struct MachineEvent;
} // namespace e2kvm::emu

namespace e2kvm::app {

class SelectedVmMachine : public qmp::QmpMachine {
public:
    // Any thread. `runner` null: no VM.
    void setRunner(std::shared_ptr<emu::MachineRunner> runner, std::string name,
                   std::vector<qmp::QmpMachineDisk> disks);
    // Forwards a machine event of the current VM to QMP (machine thread).
    void machineEvent(const emu::MachineEvent& event);

    std::string status() const override;
    std::string name() const override;
    void stop() override;
    void cont() override;
    void reset() override;
    void quit(const std::string& reason) override;
    std::shared_ptr<const emu::FrameImage> screen() const override;
    std::vector<qmp::QmpMachineDisk> disks() const override;
    void setEventHandler(std::function<void(const qmp::QmpMachineEvent&)> handler) override;

private:
    std::shared_ptr<emu::MachineRunner> current() const;

    mutable std::mutex mutex_;
    std::shared_ptr<emu::MachineRunner> runner_;
    std::string name_ = "e2kvm";
    std::vector<qmp::QmpMachineDisk> disks_;
    std::function<void(const qmp::QmpMachineEvent&)> handler_;
    bool quitReported_ = false;
};

} // namespace e2kvm::app

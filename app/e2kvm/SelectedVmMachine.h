#pragma once
// SelectedVmMachine: the machine QMP (--qmp) talks to in the GUI: whichever VM the main window
// shows, as it changes. With no running VM the machine commands see "prelaunch" and do nothing,
// except cont, which starts the selected VM (as cont after qemu-system -S).
//
// device_add / device_del plug disks into and out of the selected VM's running machine, as
// e2kvm-system's (GuestDevices): a node from blockdev-add goes into a free slot of the board,
// the VM's own disks hold slots 0.. as the anonymous virtio-blk devices query-block shows. The
// devices belong to one run of the VM, as in QEMU (device_add is not persistent; the VM's
// definition does not change): selecting another VM keeps them with the run they were plugged
// into (selecting it again shows them), and when that run ends (endRun) they let go of their
// nodes. device_del of one of the VM's own disks unplugs it from the run like any device; its
// node stays open (the VM's, released when the VM stops). Before the VM runs (prelaunch, no
// machine) device_add is refused rather than queued: the VM is only built by cont/Run, and
// what the GUI starts is its definition; device_del then finds no device. A stopped VM's run
// refuses both.
#include "app/guestdevices/GuestDevices.h"
#include "app/qmp/RunnerBackedMachine.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace e2kvm::app {

class SelectedVmMachine : public qmp::RunnerBackedMachine {
public:
    // `nodes` are the nodes device_add finds drives among (the GUI's one table).
    explicit SelectedVmMachine(vm::BlockNodeTable& nodes) : nodes_(nodes) {}
    // The iothread objects there are (QMP's object-add; a device's iothread= must name one).
    void setIothreads(const std::set<std::string>* iothreads);

    // Any thread. `runner` null: no VM. `disks` are the VM's own disks (disk i in board slot
    // i); for a run selected before, the disks it has now (with its hot-plugged ones) count.
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

    // device_add / device_del on the selected VM's run (see above); device_add throws when no
    // VM runs.
    void addDevice(const std::string& spec) override;
    std::vector<qmp::QmpDeletedDevice> deleteDevice(const std::string& id) override;
    // The run of `runner` has ended (its VM stopped or its session went): its hot-plugged
    // devices let go of their nodes and leave its disks. Any thread; idempotent.
    void endRun(const emu::MachineRunner* runner);

private:
    // One run of a VM (one MachineRunner): its disks as QMP sees them and its guest devices.
    struct Run {
        std::shared_ptr<emu::MachineRunner> runner;
        std::vector<qmp::QmpMachineDisk> disks;
        std::unique_ptr<guestdev::GuestDevices> devices;
        bool ended = false;
    };
    // True for the first SHUTDOWN since the VM was selected, reset or resumed.
    bool claimShutdown();
    // The selected run that device_add/device_del act on; throws qmp::QmpError naming
    // `command` when no VM runs or the selected one has stopped.
    std::shared_ptr<Run> deviceRun(const std::string& command) const;

    mutable std::mutex mutex_;
    std::condition_variable runnerChanged_; // setRunner() and machine events
    std::function<void()> starter_;
    std::chrono::milliseconds startTimeout_{0};
    std::string name_ = "e2kvm";
    vm::BlockNodeTable& nodes_;
    const std::set<std::string>* iothreads_ = nullptr;
    std::shared_ptr<Run> run_;               // the selected VM's run, null for none
    std::vector<std::shared_ptr<Run>> runs_; // every run not yet ended that was selected
    std::mutex deviceMutex_;                 // one device change at a time; before mutex_
    bool shutdownReported_ = false;
};

} // namespace e2kvm::app

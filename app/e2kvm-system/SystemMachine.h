#pragma once
// SystemMachine: e2kvm-system's QMP view of its MachineRunner: the -name and -drive ids it was
// given, and an observer of the machine's events for the process (power-off ends it, STOP/RESUME
// change the window title). Its quit(reason) puts "host-ui" or "host-signal" in SHUTDOWN.
#include "app/guestdevices/GuestDevices.h"
#include "app/qmp/RunnerBackedMachine.h"

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::sys {

class SystemMachine : public qmp::RunnerBackedMachine {
public:
    // Installs the runner's event callback: construct before runner.start().
    // `name` is what -name said ("" = none: query-name then returns {} as qemu-system does).
    SystemMachine(emu::MachineRunner& runner, std::vector<qmp::QmpMachineDisk> disks,
                  std::string name);

    std::string name() const override;
    std::vector<qmp::QmpMachineDisk> disks() const override;
    bool setDiskNode(const std::string& qomPath, const std::string& nodeName) override;
    bool updateDisk(const std::string& key,
                    const std::function<void(qmp::QmpMachineDisk&)>& change) override;

    // drive_add / drive_del through what e2kvm-system opens and closes drives with:
    // `open` makes the drive of a -drive option string (throws with the message to print),
    // `close` lets its node go. Without them both commands fail.
    using DriveOpener = std::function<qmp::QmpMachineDisk(const std::string& options,
                                                          const std::vector<std::string>& ids)>;
    using DriveCloser = std::function<void(const qmp::QmpMachineDisk& drive)>;
    void setDriveHotplug(DriveOpener open, DriveCloser close);
    void addDrive(const std::string& options) override;
    void deleteDrive(const std::string& id) override;

    // device_add / device_del through the board's devices (not owned; null: both fail).
    void setDeviceHotplug(guestdev::GuestDevices* devices);
    void addDevice(const std::string& spec) override;
    std::vector<qmp::QmpDeletedDevice> deleteDevice(const std::string& id) override;

    // e2kvm-system's own observer, called on the machine thread after the QMP handler.
    using RunnerBackedMachine::setObserver;

private:
    mutable std::mutex disksMutex_;
    std::vector<qmp::QmpMachineDisk> disks_;
    std::string name_;
    DriveOpener openDrive_;
    DriveCloser closeDrive_;
    guestdev::GuestDevices* devices_ = nullptr;
};

} // namespace e2kvm::sys

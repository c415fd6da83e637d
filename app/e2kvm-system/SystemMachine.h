#pragma once
// SystemMachine: e2kvm-system's QMP view of its MachineRunner: the -name and -drive ids it was
// given, and an observer of the machine's events for the process (power-off ends it, STOP/RESUME
// change the window title). Its quit(reason) puts "host-ui" or "host-signal" in SHUTDOWN.
#include "app/qmp/RunnerBackedMachine.h"

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

    // e2kvm-system's own observer, called on the machine thread after the QMP handler.
    using RunnerBackedMachine::setObserver;

private:
    mutable std::mutex disksMutex_;
    std::vector<qmp::QmpMachineDisk> disks_;
    std::string name_;
};

} // namespace e2kvm::sys

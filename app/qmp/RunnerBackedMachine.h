#pragma once
// RunnerBackedMachine: the part every QmpMachine over an emu::MachineRunner shares: run state,
// stop/cont/system_reset/quit and the screen go to the current runner, and the runner's events
// become QMP events (STOP, RESUME, RESET, SHUTDOWN). Subclasses say where the runner comes from
// and name the machine and its disks.
#include "app/qmp/QmpMachine.h"
#include "emu/machine/MachineRunner.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace e2kvm::qmp {

class RunnerBackedMachine : public QmpMachine {
public:
    // Events the runner reports after destruction are dropped.
    ~RunnerBackedMachine() override;
    RunnerBackedMachine(const RunnerBackedMachine&) = delete;
    RunnerBackedMachine& operator=(const RunnerBackedMachine&) = delete;

    // With no runner: "prelaunch"; stop, cont and reset do nothing and there is no screen.
    std::string status() const override;
    void stop() override;
    void cont() override;
    void reset() override;
    // Ends the runner; its SHUTDOWN carries `reason` (the first quit's) instead of the runner's
    // generic "host-qmp-quit", unless the guest had powered off.
    void quit(const std::string& reason) override;
    std::shared_ptr<const emu::FrameImage> screen() const override;
    // Through the runner's saveState/loadState (with no runner: the QmpMachine defaults).
    void saveState(const StateStore& store) override;
    void loadState(const std::function<std::vector<uint8_t>()>& fetch) override;
    // Once this returns the previous handler is neither running nor called again.
    void setEventHandler(std::function<void(const QmpMachineEvent&)> handler) override;

    // The QMP form of a runner event. Faults become STOP, as qemu-system stops a guest on an
    // internal error; `quitReason` (may be empty) replaces "host-qmp-quit" in a host SHUTDOWN.
    static QmpMachineEvent translate(const emu::MachineEvent& e, const std::string& quitReason);

protected:
    // Over `runner`, not owned: it must outlive this object's use. Installs the runner's event
    // callback, so construct this before runner.start().
    explicit RunnerBackedMachine(emu::MachineRunner& runner);
    // With no runner until setCurrentRunner(); its events arrive through relay().
    RunnerBackedMachine();

    std::shared_ptr<emu::MachineRunner> currentRunner() const;
    void setCurrentRunner(std::shared_ptr<emu::MachineRunner> runner);
    // Passes one runner event to QMP, then to the observer (the runner's thread).
    void relay(const emu::MachineEvent& e);
    // Passes an event that no runner reported (a quit with no machine) to QMP.
    void report(const QmpMachineEvent& e);
    // The embedding process's own view of the runner's events, called after QMP's handler.
    void setObserver(std::function<void(const emu::MachineEvent&)> observer);

private:
    // Shared with the runner's event callback, which may outlive this object.
    struct Events {
        std::mutex mutex; // held while the handler and observer run
        std::function<void(const QmpMachineEvent&)> handler;
        std::function<void(const emu::MachineEvent&)> observer;
        std::string quitReason;
        void relay(const emu::MachineEvent& e);
    };

    mutable std::mutex runnerMutex_;
    std::shared_ptr<emu::MachineRunner> runner_;
    std::shared_ptr<Events> events_ = std::make_shared<Events>();
};

} // namespace e2kvm::qmp

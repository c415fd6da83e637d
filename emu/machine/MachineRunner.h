#pragma once
// MachineRunner: runs one e2k-vm machine on its own thread. That thread alone owns the machine
// state; other threads talk to it through handshakes (pause, resume, reset, quit) and a command
// queue applied between bundle batches. Frames go out through the FramePublisher, input comes
// in through the InputSink, serial bytes through callbacks.
#include "emu/display/FramePublisher.h"
#include "emu/display/InputSink.h"
#include "emu/machine/MachineConfig.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::emu {

class Machine;

// QMP's RunState names: "prelaunch" (created, never started), "running", "paused",
// "shutdown" (guest powered off or quit), "internal-error" (guest fault with no handler),
// "restore-vm" (stopped by a loadvm that failed: paused, and resumed as such).
enum class RunState { Prelaunch, Running, Paused, Shutdown, InternalError, RestoreVm };
const char* runStateName(RunState s);

// What happened, for QMP events and GUI status: Stop/Resume/Reset/Shutdown mirror QMP's STOP,
// RESUME, RESET and SHUTDOWN events; `detail` is the reason ("guest-shutdown",
// "host-qmp-quit", "guest-reset", "host-qmp-system-reset", or a fault message).
struct MachineEvent {
    enum Kind { Stop, Resume, Reset, Shutdown, Error } kind;
    std::string detail;
};

class MachineRunner {
public:
    // Builds the machine and loads ROM/kernel; throws std::runtime_error with context
    // ("kernel.elf: segment 2 lies outside RAM").
    explicit MachineRunner(MachineConfig config);
    ~MachineRunner(); // quit() + join
    MachineRunner(const MachineRunner&) = delete;
    MachineRunner& operator=(const MachineRunner&) = delete;

    // Starts the thread, running or, with `paused` (-S), in state Prelaunch until resume().
    void start(bool paused = false);
    // Handshakes: each returns once the machine thread has acted on it.
    void pause();
    void resume();
    void reset(); // keeps Paused/Prelaunch; Shutdown/InternalError become Running
    void quit();  // idempotent; the thread ends, the disks are flushed
    RunState state() const;

    // Runs `fn` on the machine thread between bundle batches (also while paused) and waits.
    // Before start() and after quit() it runs on the caller's thread.
    void runOnMachine(const std::function<void(Machine&)>& fn);

    // savevm: runs `store` on the machine thread with the machine stopped (a running one
    // reports STOP, and RESUME when it goes on afterwards, as QEMU's savevm does), giving it
    // the machine state (MachineState) and the virtual time. What it throws comes back here.
    using StateStore =
        std::function<void(const std::vector<uint8_t>& state, uint64_t virtualTimeNs)>;
    void saveState(const StateStore& store);
    // loadvm: stops the machine (STOP), runs `fetch` on the machine thread and loads the state
    // it returns (throws MachineStateError, or what `fetch` throws). As QEMU's loadvm, a
    // machine that was running goes on from the loaded state (RESUME); after a failure it
    // stays stopped in RestoreVm.
    void loadState(const std::function<std::vector<uint8_t>()>& fetch);

    FramePublisher& display();
    InputSink& input();

    // Callbacks are called on the machine thread; they must not block or call back in.
    void setEventCallback(std::function<void(const MachineEvent&)> cb);
    void setSerialOutput(std::function<void(const char* data, size_t len)> cb);
    void serialInput(const std::string& bytes); // any thread

    uint64_t virtualTimeNs() const;
    uint64_t bundlesExecuted() const;
    const MachineConfig& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace e2kvm::emu

#pragma once
// Machine: one e2k-vm board (docs/machine.md): CPU, RAM, boot image and the MMIO devices.
// Single-threaded: MachineRunner's thread owns it and drives it in bundle batches.
#include "emu/cpu/Cpu.h"
#include "emu/cpu/GuestMemory.h"
#include "emu/display/FramePublisher.h"
#include "emu/machine/BlockDevice.h"
#include "emu/machine/BoardLimits.h"
#include "emu/machine/BootImage.h"
#include "emu/machine/Framebuffer.h"
#include "emu/machine/InterruptController.h"
#include "emu/machine/Keyboard.h"
#include "emu/machine/MachineBus.h"
#include "emu/machine/MachineConfig.h"
#include "emu/machine/Pointer.h"
#include "emu/machine/Rtc.h"
#include "emu/machine/SerialPort.h"
#include "emu/machine/SystemController.h"
#include "emu/machine/Timer.h"
#include "emu/machine/VirtualClock.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::emu {

// Why Machine::run returned.
struct MachineStop {
    enum Kind {
        Budget,     // the bundle budget ran out (or a timer/frame deadline was reached)
        Idle,       // the CPU waits (`wait trap=1`) and no enabled interrupt is pending
        PowerOff,   // the guest wrote POWER = 1
        GuestReset, // the guest wrote POWER = 2; the machine has been reset
        Fault,      // a guest exception the trap table could not take; `detail` says which
    } kind = Budget;
    std::string detail;
};

class Machine {
public:
    static constexpr uint64_t kMinRam = kBoardMinRam, kMaxRam = kBoardMaxRam;
    static constexpr unsigned kMaxDisks = kBoardDiskSlots;
    static constexpr uint64_t kFramePeriodNs = 1'000'000'000 / 60;
    static constexpr uint64_t kStackBytes = 1 << 20;

    // Validates the configuration, loads ROM/kernel and resets; throws std::runtime_error.
    explicit Machine(MachineConfig config);
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    // Power-on state (docs/machine.md, reset state). RAM reads as zero again, ROM and kernel
    // are reloaded, every device is reset.
    void reset();

    // Runs at most `maxBundles` bundles; stops early at timer and frame deadlines, when the
    // CPU idles, at a power request or at a fault.
    MachineStop run(uint64_t maxBundles);
    // While idle: the next virtual time something happens on its own (timer), if any.
    std::optional<uint64_t> nextDeadline() const { return timer_.deadline(); }
    // Lets virtual time pass up to `t` without running bundles (timer expiries, frames): the
    // CPU idles in `wait`, or a busy guest is moved on to the wall clock.
    void passTimeTo(uint64_t t);
    // Before idling with no deadline: publish what the guest drew (no frame boundary would).
    void settle() { framebuffer_.refresh(); }
    // Idle ends when an enabled interrupt line is pending (even if PSR masks it).
    bool interruptPending() const { return irq_.cpuLineRaised(); }

    uint64_t virtualTimeNs() const { return clock_.now(); }
    uint64_t bundlesExecuted() const { return bundlesBeforeReset_ + cpu_.state().bundles; }
    void flushDisks();

    // Host-side input (machine thread).
    void serialInput(std::string_view bytes) { serial_.receive(bytes); }
    void keyEvent(uint16_t scancode, bool pressed) { keyboard_.keyEvent(scancode, pressed); }
    void pointerEvent(uint16_t x, uint16_t y, uint32_t buttons) {
        pointer_.pointerEvent(x, y, buttons);
    }
    void setSerialOutput(SerialPort::Output out) { serial_.setOutput(std::move(out)); }

    const MachineConfig& config() const { return config_; }
    Cpu& cpu() { return cpu_; }
    GuestMemory& memory() { return mem_; }
    FramePublisher& display() { return publisher_; }
    Framebuffer& framebuffer() { return framebuffer_; }
    Timer& timer() { return timer_; }
    InterruptController& interrupts() { return irq_; }
    // The disk in slot n (throws std::out_of_range if the slot is empty).
    BlockDevice& disk(size_t n);
    // Slots up to the last one in use: the drive count the guest is told (SystemController's
    // DRIVES, %dr1 at reset). Slots below it may be empty (FLAGS bit 1 clear).
    unsigned diskSlots() const;
    // Hot-plug (device_add / device_del): the disk is present in free slot `slot` at once, or
    // leaves it after its writes are flushed (its page reads 0 again). No interrupt tells the
    // guest; it sees FLAGS change. Throws std::runtime_error for a bad or busy slot.
    void plugDisk(unsigned slot, const MachineDisk& disk);
    void unplugDisk(unsigned slot);

    // "exc_illegal_opcode at IP 0x100010: ...\n  bundle: { ... }  // words"
    std::string describeFault(const StopInfo& st);

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void checkFrame();

    MachineConfig config_;
    BootImage boot_;
    GuestMemory mem_;
    Cpu cpu_;
    VirtualClock clock_;
    FramePublisher publisher_;
    InterruptController irq_;
    SystemController system_;
    SerialPort serial_;
    Timer timer_;
    Rtc rtc_;
    Framebuffer framebuffer_;
    Keyboard keyboard_;
    Pointer pointer_;
    std::array<std::unique_ptr<BlockDevice>, kMaxDisks> disks_; // by slot
    MachineBus bus_;
    uint64_t nextFrameNs_ = kFramePeriodNs;
    uint64_t bundlesBeforeReset_ = 0;
    bool ramTouched_ = false;
};

} // namespace e2kvm::emu

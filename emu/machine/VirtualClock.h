#pragma once
// VirtualClock: the board's virtual time in nanoseconds since reset: one nanosecond per
// executed bundle plus the time skipped while the CPU idled in `wait` or while a busy guest was
// moved on to the wall clock (docs/machine.md, Timer).
#include "emu/cpu/Cpu.h"

#include <cstdint>

namespace e2kvm::emu {

class VirtualClock {
public:
    explicit VirtualClock(const Cpu& cpu) : cpu_(cpu) {}

    uint64_t now() const { return skipped_ + (cpu_.state().bundles - bundlesAtReset_); }
    // Idle: jump forward to `t` (never backwards).
    void advanceTo(uint64_t t) {
        uint64_t n = now();
        if (t > n)
            skipped_ += t - n;
    }
    // Call after the CPU state was reset (its bundle counter may have restarted).
    void reset() {
        bundlesAtReset_ = cpu_.state().bundles;
        skipped_ = 0;
    }

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    const Cpu& cpu_;
    uint64_t bundlesAtReset_ = 0;
    uint64_t skipped_ = 0;
};

} // namespace e2kvm::emu

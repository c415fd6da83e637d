#pragma once
// Rtc: wall-clock time as the guest sees it: the Unix time at reset plus virtual time since
// (docs/machine.md, 0xF000_4000). Deterministic machines start at a fixed date.
#include "emu/machine/MmioDevice.h"
#include "emu/machine/VirtualClock.h"

#include <cstdint>

namespace e2kvm::emu {

class Rtc final : public MmioDevice {
public:
    static constexpr uint64_t kDeterministicEpoch = 1767225600; // 2026-01-01T00:00:00Z

    Rtc(const VirtualClock& clock, bool deterministic)
        : clock_(clock), deterministic_(deterministic) {
        reset();
    }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t, uint64_t) override {}
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    const VirtualClock& clock_;
    bool deterministic_;
    uint64_t startNs_ = 0; // Unix time at reset, in ns
};

} // namespace e2kvm::emu

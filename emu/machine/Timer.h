#pragma once
// Timer: one-shot or periodic virtual-time timer on interrupt line 0 (docs/machine.md,
// 0xF000_3000). The machine asks it for the next deadline so that a bundle batch ends exactly
// there and `wait` can skip idle time.
#include "emu/machine/InterruptController.h"
#include "emu/machine/MmioDevice.h"
#include "emu/machine/VirtualClock.h"

#include <cstdint>
#include <optional>

namespace e2kvm::emu {

class Timer final : public MmioDevice {
public:
    static constexpr uint64_t kMinPeriodNs = 10'000;

    Timer(const VirtualClock& clock, InterruptController& irq) : clock_(clock), irq_(irq) {}

    // Deadline of the next expiry, if armed.
    std::optional<uint64_t> deadline() const {
        return armed_ ? std::optional<uint64_t>(deadline_) : std::nullopt;
    }
    // Expires the timer if its deadline has passed (call between batches).
    void update();
    uint64_t ticks() const { return ticks_; }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    const VirtualClock& clock_;
    InterruptController& irq_;
    uint64_t period_ = kMinPeriodNs;
    uint64_t ctrl_ = 0;
    uint64_t deadline_ = 0;
    uint64_t ticks_ = 0;
    bool armed_ = false;
    bool expired_ = false;
};

} // namespace e2kvm::emu

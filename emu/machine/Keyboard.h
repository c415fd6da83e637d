#pragma once
// Keyboard: a 64-entry FIFO of scancode events on interrupt line 2 (docs/machine.md,
// 0xF000_6000). Events beyond the FIFO's capacity are dropped.
#include "emu/machine/InterruptController.h"
#include "emu/machine/MmioDevice.h"

#include <cstdint>
#include <deque>

namespace e2kvm::emu {

class Keyboard final : public MmioDevice {
public:
    static constexpr size_t kCapacity = 64;

    explicit Keyboard(InterruptController& irq) : irq_(irq) {}

    void keyEvent(uint16_t scancode, bool pressed);
    size_t queued() const { return fifo_.size(); }

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void updateLine() {
        irq_.setLine(InterruptController::kKeyboard, irqEnable_ && !fifo_.empty());
    }

    InterruptController& irq_;
    std::deque<uint32_t> fifo_;
    bool irqEnable_ = false;
};

} // namespace e2kvm::emu

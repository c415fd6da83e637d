#pragma once
// Pointer: an absolute pointing device (tablet) on interrupt line 3 (docs/machine.md,
// 0xF000_7000): the newest position and buttons, and a "changed" flag.
#include "emu/machine/InterruptController.h"
#include "emu/machine/MmioDevice.h"

#include <cstdint>

namespace e2kvm::emu {

class Pointer final : public MmioDevice {
public:
    explicit Pointer(InterruptController& irq) : irq_(irq) {}

    void pointerEvent(uint16_t x, uint16_t y, uint32_t buttons);

    uint64_t readRegister(uint64_t offset) override;
    void writeRegister(uint64_t offset, uint64_t value) override;
    void reset() override;

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    void updateLine() { irq_.setLine(InterruptController::kPointer, irqEnable_ && changed_); }

    InterruptController& irq_;
    uint16_t x_ = 0, y_ = 0;
    uint32_t buttons_ = 0;
    bool changed_ = false;
    bool irqEnable_ = false;
};

} // namespace e2kvm::emu

#include "emu/machine/Pointer.h"

#include <algorithm>

namespace e2kvm::emu {

void Pointer::pointerEvent(uint16_t x, uint16_t y, uint32_t buttons) {
    x_ = std::min<uint16_t>(x, 32767);
    y_ = std::min<uint16_t>(y, 32767);
    buttons_ = buttons & 7;
    changed_ = true;
    updateLine();
}

uint64_t Pointer::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00:
        changed_ = false;
        updateLine();
        return x_;
    case 0x08:
        return y_;
    case 0x10:
        return buttons_;
    case 0x18:
        return changed_ ? 1 : 0;
    case 0x20:
        return irqEnable_ ? 1 : 0;
    default:
        return 0;
    }
}

void Pointer::writeRegister(uint64_t offset, uint64_t value) {
    if (offset == 0x20) {
        irqEnable_ = value & 1;
        updateLine();
    }
}

void Pointer::reset() {
    x_ = y_ = 0;
    buttons_ = 0;
    changed_ = false;
    irqEnable_ = false;
    updateLine();
}

} // namespace e2kvm::emu

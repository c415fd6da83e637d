#include "emu/machine/Keyboard.h"

namespace e2kvm::emu {

void Keyboard::keyEvent(uint16_t scancode, bool pressed) {
    if (fifo_.size() >= kCapacity)
        return;
    fifo_.push_back(uint32_t(scancode) | (pressed ? 0u : 1u << 16));
    updateLine();
}

uint64_t Keyboard::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00: {
        if (fifo_.empty())
            return 0;
        uint64_t v = fifo_.front() | uint64_t(1) << 63;
        fifo_.pop_front();
        updateLine();
        return v;
    }
    case 0x08:
        return fifo_.empty() ? 0 : 1;
    case 0x10:
        return irqEnable_ ? 1 : 0;
    default:
        return 0;
    }
}

void Keyboard::writeRegister(uint64_t offset, uint64_t value) {
    if (offset == 0x10) {
        irqEnable_ = value & 1;
        updateLine();
    }
}

void Keyboard::reset() {
    fifo_.clear();
    irqEnable_ = false;
    updateLine();
}

} // namespace e2kvm::emu

#include "emu/machine/InterruptController.h"

#include <bit>

namespace e2kvm::emu {

void InterruptController::setLine(unsigned line, bool asserted) {
    if (line >= 16)
        return;
    uint64_t bit = uint64_t(1) << line;
    pending_ = asserted ? (pending_ | bit) : (pending_ & ~bit);
    update();
}

uint64_t InterruptController::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00:
        return pending_;
    case 0x08:
        return enable_;
    case 0x10: {
        uint64_t active = pending_ & enable_;
        return active ? uint64_t(std::countr_zero(active)) : ~uint64_t(0);
    }
    default:
        return 0;
    }
}

void InterruptController::writeRegister(uint64_t offset, uint64_t value) {
    if (offset == 0x08) {
        enable_ = value & 0xFFFF;
        update();
    }
}

void InterruptController::reset() {
    pending_ = 0;
    enable_ = 0;
    update();
}

} // namespace e2kvm::emu

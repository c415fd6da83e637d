#include "emu/machine/Timer.h"

namespace e2kvm::emu {

void Timer::update() {
    if (!armed_)
        return;
    uint64_t now = clock_.now();
    if (now < deadline_)
        return;
    expired_ = true;
    if (ctrl_ & 2) {
        // Periodic: count every period that passed (a long batch or a pause may cover several).
        uint64_t missed = (now - deadline_) / period_;
        ticks_ += 1 + missed;
        deadline_ += (1 + missed) * period_;
    } else {
        ++ticks_;
        armed_ = false;
    }
    irq_.setLine(InterruptController::kTimer, true);
}

uint64_t Timer::readRegister(uint64_t offset) {
    update();
    switch (offset) {
    case 0x00:
        return clock_.now();
    case 0x08:
        return period_;
    case 0x10:
        return ctrl_;
    case 0x20:
        return expired_ ? 1 : 0;
    case 0x28:
        return ticks_;
    default:
        return 0;
    }
}

void Timer::writeRegister(uint64_t offset, uint64_t value) {
    switch (offset) {
    case 0x08:
        period_ = value < kMinPeriodNs ? kMinPeriodNs : value;
        break;
    case 0x10:
        ctrl_ = value & 3;
        armed_ = ctrl_ & 1;
        deadline_ = clock_.now() + period_;
        break;
    case 0x18:
        update(); // an expiry that already happened is not lost by a late ACK
        expired_ = false;
        irq_.setLine(InterruptController::kTimer, false);
        break;
    default:
        break;
    }
}

void Timer::reset() {
    period_ = kMinPeriodNs;
    ctrl_ = 0;
    deadline_ = 0;
    ticks_ = 0;
    armed_ = false;
    expired_ = false;
    irq_.setLine(InterruptController::kTimer, false);
}

} // namespace e2kvm::emu

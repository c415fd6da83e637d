#include "emu/machine/SystemController.h"

namespace e2kvm::emu {

uint64_t SystemController::readRegister(uint64_t offset) {
    switch (offset) {
    case 0x00:
        return kMagic;
    case 0x08:
        return ramBytes_;
    case 0x18:
        return clock_.now();
    case 0x20:
        return drives_;
    default:
        return 0;
    }
}

void SystemController::writeRegister(uint64_t offset, uint64_t value) {
    if (offset != 0x10)
        return;
    if (value == 1)
        request_ = PowerRequest::PowerOff;
    else if (value == 2 && request_ == PowerRequest::None)
        request_ = PowerRequest::Reset;
    else
        return;
    if (onRequest_)
        onRequest_();
}

} // namespace e2kvm::emu

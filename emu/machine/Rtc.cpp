#include "emu/machine/Rtc.h"

#include <chrono>

namespace e2kvm::emu {

uint64_t Rtc::readRegister(uint64_t offset) {
    uint64_t t = startNs_ + clock_.now();
    if (offset == 0x00)
        return t / 1'000'000'000;
    if (offset == 0x08)
        return t % 1'000'000'000;
    return 0;
}

void Rtc::reset() {
    if (deterministic_) {
        startNs_ = kDeterministicEpoch * 1'000'000'000;
        return;
    }
    auto since = std::chrono::system_clock::now().time_since_epoch();
    startNs_ = uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(since).count());
}

} // namespace e2kvm::emu

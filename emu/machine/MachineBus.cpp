#include "emu/machine/MachineBus.h"

namespace e2kvm::emu {

bool MachineBus::route(uint64_t addr, MmioDevice*& device, uint64_t& offset) const {
    if (addr < kBase || addr >= kBase + kPages * kPageSize)
        return false;
    unsigned page = unsigned((addr - kBase) / kPageSize);
    if (!pages_[page] && !claimed_[page])
        return false;
    device = pages_[page];
    offset = (addr - kBase) % kPageSize;
    return true;
}

bool MachineBus::read(uint64_t addr, unsigned size, uint64_t& value, uint8_t) {
    MmioDevice* device = nullptr;
    uint64_t offset = 0;
    if (!route(addr, device, offset))
        return false;
    value = 0;
    if (device && (size == 4 || size == 8) && offset % 8 == 0) {
        value = device->readRegister(offset);
        if (size == 4)
            value &= 0xFFFFFFFFu;
    }
    return true;
}

bool MachineBus::write(uint64_t addr, unsigned size, uint64_t value, uint8_t) {
    MmioDevice* device = nullptr;
    uint64_t offset = 0;
    if (!route(addr, device, offset))
        return false;
    if (device && (size == 4 || size == 8) && offset % 8 == 0)
        device->writeRegister(offset, size == 4 ? (value & 0xFFFFFFFFu) : value);
    return true;
}

} // namespace e2kvm::emu

#pragma once
// MmioDevice: one 4 KiB register page of the e2k-vm board. The bus hands every device 64-bit
// register reads and writes at 8-byte aligned offsets (docs/machine.md: "every register is 64
// bits wide"); 4-byte accesses are narrowed and widened by the bus.
#include <cstdint>

namespace e2kvm::emu {

class MmioDevice {
public:
    virtual ~MmioDevice() = default;
    // Unassigned offsets read 0 and ignore writes.
    virtual uint64_t readRegister(uint64_t offset) = 0;
    virtual void writeRegister(uint64_t offset, uint64_t value) = 0;
    // Back to the state after power-on.
    virtual void reset() = 0;
};

} // namespace e2kvm::emu

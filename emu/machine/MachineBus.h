#pragma once
// MachineBus: the e2k-vm MMIO window (docs/machine.md, memory map): routes 4- and 8-byte
// accesses at 8-byte aligned offsets to the device that owns the 4 KiB page; other sizes and
// alignments inside a device page read 0 and are ignored. Addresses with no device fault.
#include "emu/cpu/GuestMemory.h"
#include "emu/machine/MmioDevice.h"

#include <array>
#include <cstdint>

namespace e2kvm::emu {

class MachineBus final : public MmioBus {
public:
    static constexpr uint64_t kBase = 0xF0000000;
    static constexpr uint64_t kPageSize = 0x1000;
    static constexpr unsigned kPages = 24; // 16 system pages + 8 block device pages

    // Page n covers kBase + n * 4 KiB. A page without a device but marked `claimed` reads 0
    // (absent block devices), an unclaimed one faults.
    void attach(unsigned page, MmioDevice* device) { pages_.at(page) = device; }
    void claim(unsigned page) { claimed_.at(page) = true; }

    bool read(uint64_t addr, unsigned size, uint64_t& value, uint8_t mas) override;
    bool write(uint64_t addr, unsigned size, uint64_t value, uint8_t mas) override;

private:
    // Returns false if no device answers at addr; otherwise sets page/offset.
    bool route(uint64_t addr, MmioDevice*& device, uint64_t& offset) const;

    std::array<MmioDevice*, kPages> pages_{};
    std::array<bool, kPages> claimed_{};
};

} // namespace e2kvm::emu

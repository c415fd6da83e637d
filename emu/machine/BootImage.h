#pragma once
// BootImage: what the e2k-vm machine puts into RAM at every reset: the flat boot ROM (-bios)
// and/or the segments of a static E2K ELF kernel (-kernel), validated against the RAM size
// once, when the machine is built (docs/machine.md, memory map and reset state).
#include "emu/asm/ElfImage.h"
#include "emu/cpu/GuestMemory.h"
#include "emu/machine/MachineConfig.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace e2kvm::emu {

class BootImage {
public:
    static constexpr uint64_t kRomSize = 1 << 20;
    static constexpr uint64_t kRamStart = 0x100000; // kernels load at or above this

    // Reads and checks the ROM and kernel; throws std::runtime_error with the file name.
    explicit BootImage(const MachineConfig& config);

    // Copies ROM and kernel segments into RAM (bss zeroed).
    void load(GuestMemory& mem) const;
    // Where the CPU starts and the trap table (OSCUD base) after reset.
    uint64_t entry() const { return entry_; }
    uint64_t trapBase() const { return trapBase_; }

private:
    std::vector<uint8_t> rom_;
    std::optional<ElfExecutable> kernel_;
    uint64_t entry_ = 0, trapBase_ = 0;
};

} // namespace e2kvm::emu

#pragma once
// BoardLimits: the e2k-vm board's fixed sizes (docs/machine.md), which the machine enforces and
// a VM definition must fit: its RAM range and its number of block-device slots.
#include <cstdint>

namespace e2kvm::emu {

inline constexpr uint64_t kBoardMinRam = 16ull << 20;
inline constexpr uint64_t kBoardMaxRam = 3ull << 30;
inline constexpr unsigned kBoardDiskSlots = 8;

} // namespace e2kvm::emu

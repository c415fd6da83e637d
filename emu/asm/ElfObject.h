#pragma once
// ElfObject: writes an assembled relocatable object as an ELF64 ET_REL file for E2K in the
// layout MCST's as gives its own objects (section order, .rela.* after their sections, symbol
// table order, string tables with shared suffixes), so that MCST's ld links it and objdump and
// readelf read it the same way.
#include "emu/asm/Assembler.h"

#include <cstdint>
#include <vector>

namespace e2kvm::emu {

std::vector<uint8_t> writeObject(const AsmObject& obj, uint32_t eFlags);

} // namespace e2kvm::emu

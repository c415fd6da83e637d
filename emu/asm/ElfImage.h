#pragma once
// ElfImage: writes an assembled image as a static ELF64 executable for E2K (EM_MCST_ELBRUS,
// e_flags = ISA version) or as a flat binary, and reads such executables back (PT_LOAD
// segments only) for the loader and the disassembler.
#include "emu/asm/Assembler.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::emu {

constexpr uint16_t kEmMcstElbrus = 175;
constexpr uint32_t kElbrusV3Flags = 3u << 24;

std::vector<uint8_t> writeElf(const AsmImage& img, uint32_t eFlags = kElbrusV3Flags);
// Text at offset 0, data at dataAddr - textAddr (zero-filled gap); bss not stored.
std::vector<uint8_t> writeFlat(const AsmImage& img);

struct ElfSegment {
    uint64_t vaddr = 0, memSize = 0;
    uint32_t flags = 0;         // PF_X 1, PF_W 2, PF_R 4
    std::vector<uint8_t> bytes; // file contents (filesz)
};

struct ElfExecutable {
    uint64_t entry = 0;
    uint32_t flags = 0;
    std::vector<ElfSegment> segments;
};

// Parses a static E2K ELF64 executable; throws std::runtime_error with `name` in the message.
ElfExecutable readElf(const std::vector<uint8_t>& file, const std::string& name);

} // namespace e2kvm::emu

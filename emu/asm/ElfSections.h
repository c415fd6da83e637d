#pragma once
// ElfSections: the section view of an E2K ELF64 file (relocatable object or executable, ours or
// MCST's): section headers with names, the symbol table and RELA relocations, for
// e2kvm-objdump. Every offset, size and index in the file is checked against the file, so a
// broken or hostile file gives an error naming what is wrong, never a read outside it.
#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::emu {

struct ElfSection {
    std::string name;
    uint32_t type = 0;  // SHT_PROGBITS 1, SHT_SYMTAB 2, SHT_STRTAB 3, SHT_RELA 4, SHT_NOBITS 8
    uint64_t flags = 0; // SHF_WRITE 1, SHF_ALLOC 2, SHF_EXECINSTR 4
    uint64_t addr = 0, offset = 0, size = 0, align = 0, entsize = 0;
    uint32_t link = 0, info = 0;
    // The section's bytes (empty for SHT_NOBITS).
    std::vector<uint8_t> bytes;
};

struct ElfSymbol {
    std::string name;
    uint64_t value = 0, size = 0;
    uint8_t bind = 0;   // STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2
    uint8_t type = 0;   // STT_NOTYPE 0, STT_OBJECT 1, STT_FUNC 2, STT_SECTION 3, STT_FILE 4
    uint16_t shndx = 0; // section index; 0 undefined, 0xfff1 absolute, 0xfff2 common
};

struct ElfRelocation {
    uint64_t offset = 0; // in the section the relocations apply to
    uint32_t type = 0;
    uint32_t symbol = 0; // index into symbols (0: none)
    int64_t addend = 0;
};

struct ElfRelocationSection {
    uint32_t target = 0; // index of the section the relocations apply to
    std::vector<ElfRelocation> entries;
};

struct ElfFile {
    uint16_t type = 0; // ET_REL 1, ET_EXEC 2, ET_DYN 3
    uint16_t machine = 0;
    uint32_t flags = 0;
    uint64_t entry = 0;
    std::vector<ElfSection> sections; // index 0 is the null section
    std::vector<ElfSymbol> symbols;   // index 0 is the null symbol (empty if no symtab)
    std::vector<ElfRelocationSection> relocations;
};

// Parses `file`; throws std::runtime_error "NAME: ..." when it is not a little-endian ELF64
// file or its tables do not fit.
ElfFile readElfSections(const std::vector<uint8_t>& file, const std::string& name);

// MCST's name of an E2K relocation type ("R_E2K_64_ABS_LIT"), or "R_E2K_<number>" if unknown.
std::string e2kRelocationName(uint32_t type);

} // namespace e2kvm::emu

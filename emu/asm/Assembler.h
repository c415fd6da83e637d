#pragma once
// Assembler: E2K assembly source (MCST GAS syntax for bundles and for the fapb instructions
// of array prefetch programs, plus GNU as labels, numeric local labels, macros and
// directives: .text .data .bss .section .pushsection .popsection
// .previous .align .balign .p2align .byte .hword .half .short .word .long .int .dword .quad
// .fill .ascii .asciz .string .zero .skip .space .global .globl .local .weak .type .size .set
// .equ "name = expr") to either a relocatable object (sections at 0, relocations, a symbol
// table: AsmObject) or a memory image with a text, a data and a bss part (AsmImage).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace e2kvm::emu {

struct AsmOptions {
    uint64_t textBase = 0x10000; // data follows the text on the next 4 KiB page
};

struct AsmImage {
    uint64_t textAddr = 0;
    std::vector<uint8_t> text; // the executable and the other read-only sections
    uint64_t dataAddr = 0;
    std::vector<uint8_t> data;
    uint64_t bssAddr = 0, bssSize = 0;
    uint64_t entry = 0; // _start if defined, else the start of .text
    std::map<std::string, uint64_t> symbols;
};

// ELF relocation types of E2K (MCST binutils' include/elf/e2k.h numbering).
constexpr uint32_t kRelE2k32Abs = 0, kRelE2k64Abs = 50, kRelE2k64AbsLit = 51, kRelE2kDisp = 110;

struct AsmRelocation {
    uint64_t offset = 0;
    uint32_t type = 0;
    std::string symbol; // a symbol name, or a section name for a section-relative one
    bool sectionSymbol = false;
    int64_t addend = 0;
};

struct AsmSection {
    std::string name;
    uint32_t type = 1;  // SHT_PROGBITS 1, SHT_NOBITS 8
    uint64_t flags = 0; // SHF_WRITE 1, SHF_ALLOC 2, SHF_EXECINSTR 4
    uint64_t align = 1;
    uint64_t size = 0;
    std::vector<uint8_t> bytes; // empty for NOBITS
    std::vector<AsmRelocation> relocations;
};

struct AsmSymbol {
    std::string name;
    std::string section; // empty: absolute; "*UND*": undefined
    uint64_t value = 0;
    uint64_t size = 0;
    bool global = false, weak = false;
    bool sectionSymbol = false; // the symbol of section `section` (name empty)
    uint8_t type = 0;           // STT_NOTYPE 0, STT_OBJECT 1, STT_FUNC 2
};

struct AsmObject {
    std::vector<AsmSection> sections; // in order of first use; .text .data .bss first
    // Without .L and numeric local labels; in the order the assembler met them, with each
    // section's symbol where the section was created.
    std::vector<AsmSymbol> symbols;
};

// Throws AsmError with "file:line: " context.
AsmImage assemble(const std::string& source, const std::string& fileName,
                  const AsmOptions& options = {});
AsmObject assembleObject(const std::string& source, const std::string& fileName);

} // namespace e2kvm::emu

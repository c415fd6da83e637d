#pragma once
// Assembler: E2K assembly source (MCST GAS syntax for bundles, plus labels and the directives
// .text .data .bss .align .byte .half .word .dword .ascii .asciz .zero .global .equ) to a
// memory image with a text, a data and a bss section, in two passes.
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
    std::vector<uint8_t> text;
    uint64_t dataAddr = 0;
    std::vector<uint8_t> data;
    uint64_t bssAddr = 0, bssSize = 0;
    uint64_t entry = 0; // _start if defined, else the start of .text
    std::map<std::string, uint64_t> symbols;
};

// Throws AsmError with "file:line: " context.
AsmImage assemble(const std::string& source, const std::string& fileName,
                  const AsmOptions& options = {});

} // namespace e2kvm::emu

// libFuzzer target: random bytes as an ELF file for e2kvm-objdump's reader (section headers,
// names, symbols, relocations). It must throw std::runtime_error or return; never crash, hang
// or read outside the input. Every name and table it returns is walked.
#include "emu/asm/ElfSections.h"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> file(data, data + size);
    try {
        e2kvm::emu::ElfFile elf = e2kvm::emu::readElfSections(file, "fuzz.o");
        size_t total = 0;
        for (const auto& s : elf.sections)
            total += s.name.size() + s.bytes.size();
        for (const auto& s : elf.symbols)
            total += s.name.size();
        for (const auto& r : elf.relocations)
            for (const auto& e : r.entries)
                total += e2kvm::emu::e2kRelocationName(e.type).size();
        if (total == size_t(-1))
            return 1;
    } catch (const std::runtime_error&) {
    }
    return 0;
}

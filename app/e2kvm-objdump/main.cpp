// e2kvm-objdump: disassembles the executable segments of an E2K ELF (or a flat image with
// -b ADDR) one bundle per line: address, syllable words, bundle in assembler syntax.
#include "emu/asm/Disassembler.h"
#include "emu/asm/ElfImage.h"
#include "emu/cpu/Bundle.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

using namespace e2kvm::emu;

static int usage() {
    std::cerr << "usage: e2kvm-objdump -d [-b BASE] [--source] FILE\n"
                 "  -b BASE   FILE is a flat image loaded at BASE\n"
                 "  --source  print only the bundles (input for e2kvm-as)\n";
    return 2;
}

static void dump(const std::vector<uint8_t>& code, uint64_t base, bool source) {
    size_t off = 0;
    while (off + 8 <= code.size()) {
        RawBundle raw;
        uint64_t addr = base + off;
        char buf[32];
        if (!unpackBundle(code.data() + off, code.size() - off, raw)) {
            uint32_t w0 = readLe32(code.data() + off), w1 = readLe32(code.data() + off + 4);
            if (source)
                std::printf("  .word 0x%08x, 0x%08x\n", w0, w1);
            else
                std::printf("%8llx:  %08x %08x  (invalid bundle)\n",
                            static_cast<unsigned long long>(addr), w0, w1);
            off += 8;
            continue;
        }
        std::string text = disassembleBundle(raw, addr);
        if (source) {
            std::printf("  %s\n", text.c_str());
        } else {
            std::string words;
            for (unsigned i = 0; i < raw.sizeBytes / 4; ++i) {
                std::snprintf(buf, sizeof buf, "%08x ", readLe32(code.data() + off + 4 * i));
                words += buf;
            }
            std::printf("%8llx:  %s\n          %s\n", static_cast<unsigned long long>(addr),
                        text.c_str(), words.c_str());
        }
        off += raw.sizeBytes;
    }
}

int main(int argc, char** argv) {
    bool disasm = false, source = false, flat = false;
    uint64_t base = 0;
    std::string file;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-d")
            disasm = true;
        else if (a == "--source")
            source = true;
        else if (a == "-b" && i + 1 < argc) {
            flat = true;
            base = std::stoull(argv[++i], nullptr, 0);
        } else if (!a.empty() && a[0] == '-')
            return usage();
        else
            file = a;
    }
    if (!disasm || file.empty())
        return usage();
    std::ifstream f(file, std::ios::binary);
    if (!f) {
        std::cerr << "e2kvm-objdump: cannot read " << file << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                               std::istreambuf_iterator<char>());
    try {
        if (flat) {
            dump(bytes, base, source);
            return 0;
        }
        ElfExecutable exe = readElf(bytes, file);
        for (const ElfSegment& s : exe.segments) {
            if (!(s.flags & 1))
                continue;
            if (!source)
                std::printf("segment at 0x%llx (%zu bytes):\n",
                            static_cast<unsigned long long>(s.vaddr), s.bytes.size());
            dump(s.bytes, s.vaddr, source);
        }
    } catch (const std::exception& e) {
        std::cerr << "e2kvm-objdump: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

// e2kvm-objdump: reads E2K ELF files (relocatable objects and executables, ours or MCST's) as
// objdump does: -d disassembles the code sections one bundle per line (address, bundle in
// assembler syntax, syllable words) labelled with their symbols, -h/-t/-r list the sections,
// symbols and relocations; -b BASE disassembles a flat image.
#include "emu/asm/Disassembler.h"
#include "emu/asm/ElfImage.h"
#include "emu/asm/ElfSections.h"
#include "emu/asm/PrefetchInstruction.h"
#include "emu/cpu/Bundle.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

using namespace e2kvm::emu;

static int usage() {
    std::cerr << "usage: e2kvm-objdump [-d] [-h] [-t] [-r] [-b BASE] [--source] FILE\n"
                 "  -d        disassemble the code sections, labelled with their symbols\n"
                 "  -h        list the section headers\n"
                 "  -t        list the symbol table\n"
                 "  -r        list the relocations (with -d: after the bundle they patch)\n"
                 "  -b BASE   FILE is a flat image loaded at BASE (with -d)\n"
                 "  --source  with -d: print only the bundles (input for e2kvm-as)\n";
    return 2;
}

namespace {

constexpr uint32_t kShtSymtab = 2, kShtStrtab = 3, kShtRela = 4, kShtNobits = 8, kShtRel = 9;
constexpr uint64_t kShfWrite = 1, kShfAlloc = 2, kShfExec = 4;
constexpr uint8_t kSttSection = 3, kSttFile = 4, kSttFunc = 2, kSttObject = 1;

struct Label {
    uint64_t address;
    std::string name;
};

// A section GNU objdump lists (not the tables that describe the others).
bool listed(const ElfSection& s) {
    return s.type != 0 && s.type != kShtSymtab && s.type != kShtStrtab && s.type != kShtRela &&
           s.type != kShtRel;
}

const ElfRelocationSection* relocationsFor(const ElfFile& elf, size_t section) {
    for (const ElfRelocationSection& r : elf.relocations)
        if (r.target == section)
            return &r;
    return nullptr;
}

std::string sectionNameOf(const ElfFile& elf, uint16_t shndx) {
    if (shndx == 0)
        return "*UND*";
    if (shndx == 0xfff1)
        return "*ABS*";
    if (shndx == 0xfff2)
        return "*COM*";
    return shndx < elf.sections.size() ? elf.sections[shndx].name : "*unknown*";
}

// What a relocation refers to: the symbol (a section symbol by its section) and the addend,
// written in full width in the -r table (`wide`) and shortest after a bundle, as objdump does.
std::string relocationValue(const ElfFile& elf, const ElfRelocation& r, bool wide) {
    std::string v;
    if (r.symbol < elf.symbols.size() && r.symbol != 0) {
        const ElfSymbol& s = elf.symbols[r.symbol];
        v = s.type == kSttSection ? sectionNameOf(elf, s.shndx) : s.name;
    } else if (r.symbol != 0) {
        v = "*bad symbol " + std::to_string(r.symbol) + "*";
    }
    char buf[32];
    if (r.addend > 0) {
        std::snprintf(buf, sizeof buf, wide ? "+0x%016llx" : "+0x%llx",
                      static_cast<unsigned long long>(r.addend));
        v += buf;
    } else if (r.addend < 0) {
        std::snprintf(buf, sizeof buf, wide ? "-0x%016llx" : "-0x%llx",
                      static_cast<unsigned long long>(-static_cast<uint64_t>(r.addend)));
        v += buf;
    }
    return v;
}

void printSectionHeaders(const ElfFile& elf) {
    std::printf("Sections:\nIdx Name          Size      VMA               LMA               "
                "File off  Algn\n");
    unsigned idx = 0;
    for (size_t i = 0; i < elf.sections.size(); ++i) {
        const ElfSection& s = elf.sections[i];
        if (!listed(s))
            continue;
        unsigned alignLog = 0;
        while (alignLog < 63 && (uint64_t(1) << (alignLog + 1)) <= s.align)
            ++alignLog;
        std::printf("%3u %-13s %08llx  %016llx  %016llx  %08llx  2**%u\n", idx++, s.name.c_str(),
                    static_cast<unsigned long long>(s.size),
                    static_cast<unsigned long long>(s.addr),
                    static_cast<unsigned long long>(s.addr),
                    static_cast<unsigned long long>(s.offset), alignLog);
        std::string flags;
        auto add = [&](const char* f) { flags += flags.empty() ? f : std::string(", ") + f; };
        if (s.type != kShtNobits)
            add("CONTENTS");
        if (s.flags & kShfAlloc)
            add("ALLOC");
        if ((s.flags & kShfAlloc) && s.type != kShtNobits)
            add("LOAD");
        if (relocationsFor(elf, i))
            add("RELOC");
        if (!(s.flags & kShfWrite) && s.type != kShtNobits)
            add("READONLY");
        if (s.flags & kShfExec)
            add("CODE");
        else if (s.type != kShtNobits)
            add("DATA");
        std::printf("                  %s\n", flags.c_str());
    }
}

void printSymbols(const ElfFile& elf) {
    std::printf("SYMBOL TABLE:\n");
    if (elf.symbols.size() <= 1) {
        std::printf("no symbols\n");
        return;
    }
    for (size_t i = 1; i < elf.symbols.size(); ++i) {
        const ElfSymbol& s = elf.symbols[i];
        // objdump marks neither local nor global what is undefined.
        char scope = s.shndx == 0 ? ' ' : s.bind == 0 ? 'l' : s.bind == 1 ? 'g' : ' ';
        char weak = s.bind == 2 ? 'w' : ' ';
        char debug = s.type == kSttSection ? 'd' : s.type == kSttFile ? 'd' : ' ';
        char kind = s.type == kSttFunc     ? 'F'
                    : s.type == kSttObject ? 'O'
                    : s.type == kSttFile   ? 'f'
                                           : ' ';
        std::string name = s.type == kSttSection ? sectionNameOf(elf, s.shndx) : s.name;
        std::printf("%016llx %c%c   %c%c %s\t%016llx %s\n",
                    static_cast<unsigned long long>(s.value), scope, weak, debug, kind,
                    sectionNameOf(elf, s.shndx).c_str(), static_cast<unsigned long long>(s.size),
                    name.c_str());
    }
    std::printf("\n\n");
}

void printRelocations(const ElfFile& elf) {
    for (const ElfRelocationSection& rs : elf.relocations) {
        std::printf("RELOCATION RECORDS FOR [%s]:\nOFFSET           TYPE              VALUE \n",
                    elf.sections[rs.target].name.c_str());
        for (const ElfRelocation& r : rs.entries)
            std::printf("%016llx %-17s %s\n", static_cast<unsigned long long>(r.offset),
                        e2kRelocationName(r.type).c_str(), relocationValue(elf, r, true).c_str());
        std::printf("\n\n");
    }
}

// Disassembles `code` loaded at `base`: a label line before the bundle each symbol starts,
// and (if `relocs`) the relocations that patch each bundle after it.
void dump(const std::vector<uint8_t>& code, uint64_t base, bool source,
          const std::vector<Label>& labels = {}, const ElfFile* elf = nullptr,
          const ElfRelocationSection* relocs = nullptr, uint64_t relocBase = 0) {
    size_t off = 0;
    size_t nextLabel = 0;
    while (off + 8 <= code.size()) {
        RawBundle raw;
        uint64_t addr = base + off;
        char buf[32];
        for (; nextLabel < labels.size() && labels[nextLabel].address <= addr; ++nextLabel)
            if (!source)
                std::printf("\n%016llx <%s>:\n",
                            static_cast<unsigned long long>(labels[nextLabel].address),
                            labels[nextLabel].name.c_str());
        size_t length = 8;
        const bool bundle = unpackBundle(code.data() + off, code.size() - off, raw);
        if (!bundle && off + 16 <= code.size()) {
            // Not a bundle: as MCST's objdump does, read 16 bytes as an instruction of an array
            // prefetch program (fapb).
            length = 16;
            if (source) {
                std::printf("  %s\n", prefetchSource(code.data() + off).c_str());
            } else {
                auto halves = prefetchListing(code.data() + off);
                std::string words;
                for (unsigned i = 0; i < 4; ++i) {
                    std::snprintf(buf, sizeof buf, "%08x ", readLe32(code.data() + off + 4 * i));
                    words += buf;
                }
                std::printf("%8llx:  %s\n           %s\n          %s\n",
                            static_cast<unsigned long long>(addr), halves[0].c_str(),
                            halves[1].c_str(), words.c_str());
            }
        } else if (!bundle) {
            uint32_t w0 = readLe32(code.data() + off), w1 = readLe32(code.data() + off + 4);
            if (source)
                std::printf("  .word 0x%08x, 0x%08x\n", w0, w1);
            else
                std::printf("%8llx:  %08x %08x  (invalid bundle)\n",
                            static_cast<unsigned long long>(addr), w0, w1);
        } else {
            length = raw.sizeBytes;
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
        }
        if (relocs && elf && !source)
            for (const ElfRelocation& r : relocs->entries)
                if (r.offset >= relocBase + off && r.offset < relocBase + off + length)
                    std::printf("\t\t\t%llx: %s\t%s\n", static_cast<unsigned long long>(r.offset),
                                e2kRelocationName(r.type).c_str(),
                                relocationValue(*elf, r, false).c_str());
        off += length;
    }
}

// The symbols that name places in section `index`, by address (labels for the disassembly).
std::vector<Label> labelsOf(const ElfFile& elf, size_t index) {
    std::vector<Label> out;
    for (const ElfSymbol& s : elf.symbols)
        if (s.shndx == index && s.type != kSttSection && s.type != kSttFile && !s.name.empty())
            out.push_back({s.value, s.name});
    std::stable_sort(out.begin(), out.end(),
                     [](const Label& a, const Label& b) { return a.address < b.address; });
    return out;
}

void disassembleSections(const ElfFile& elf, bool source, bool withRelocs) {
    for (size_t i = 0; i < elf.sections.size(); ++i) {
        const ElfSection& s = elf.sections[i];
        if (!(s.flags & kShfExec) || s.type == kShtNobits)
            continue;
        if (!source)
            std::printf("\nDisassembly of section %s:\n", s.name.c_str());
        // In an object a symbol's value is its offset in the section; in an executable, its
        // address (the section's address plus that offset).
        dump(s.bytes, s.addr, source, labelsOf(elf, i), &elf,
             withRelocs ? relocationsFor(elf, i) : nullptr, elf.type == 1 ? 0 : s.addr);
    }
}

} // namespace

int main(int argc, char** argv) {
    bool disasm = false, source = false, flat = false, headers = false, symbols = false,
         relocs = false;
    uint64_t base = 0;
    std::string file;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--source") {
            source = true;
        } else if (a == "-b" && i + 1 < argc) {
            flat = true;
            base = std::stoull(argv[++i], nullptr, 0);
        } else if (a.size() > 1 && a[0] == '-' && a[1] != '-') {
            for (char c : a.substr(1)) {
                if (c == 'd')
                    disasm = true;
                else if (c == 'h')
                    headers = true;
                else if (c == 't')
                    symbols = true;
                else if (c == 'r')
                    relocs = true;
                else
                    return usage();
            }
        } else if (!a.empty() && a[0] == '-') {
            return usage();
        } else {
            file = a;
        }
    }
    if ((!disasm && !headers && !symbols && !relocs) || file.empty() || (flat && !disasm))
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
        ElfFile elf = readElfSections(bytes, file);
        if (elf.machine != kEmMcstElbrus)
            throw std::runtime_error(file + ": not an E2K file (machine " +
                                     std::to_string(elf.machine) + ")");
        if (!source)
            std::printf("\n%s:     file format elf64-e2k\n\n", file.c_str());
        if (headers)
            printSectionHeaders(elf);
        if (symbols)
            printSymbols(elf);
        if (relocs && !disasm)
            printRelocations(elf);
        if (!disasm)
            return 0;
        if (!elf.sections.empty()) {
            disassembleSections(elf, source, relocs);
            return 0;
        }
        // No section headers: the executable's loadable code segments.
        ElfExecutable exe = readElf(bytes, file);
        for (const ElfSegment& s : exe.segments) {
            if (!(s.flags & 1))
                continue;
            if (!source)
                std::printf("\nDisassembly of segment at 0x%llx (%zu bytes):\n",
                            static_cast<unsigned long long>(s.vaddr), s.bytes.size());
            dump(s.bytes, s.vaddr, source);
        }
    } catch (const std::exception& e) {
        std::cerr << "e2kvm-objdump: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

#include "emu/asm/ElfSections.h"

#include <cstring>
#include <stdexcept>

namespace e2kvm::emu {

namespace {

constexpr uint32_t kShtSymtab = 2, kShtRela = 4, kShtNobits = 8;
constexpr size_t kEhdrSize = 64, kShdrSize = 64, kSymSize = 24, kRelaSize = 24;

// Bounds-checked little-endian reads of one file.
class Reader {
public:
    Reader(const std::vector<uint8_t>& file, const std::string& name) : f_(file), name_(name) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error(name_ + ": " + what);
    }
    // Whether [offset, offset + length) lies inside the file.
    bool fits(uint64_t offset, uint64_t length) const {
        return offset <= f_.size() && length <= f_.size() - offset;
    }
    void need(uint64_t offset, uint64_t length, const std::string& what) const {
        if (!fits(offset, length))
            fail(what + " (" + std::to_string(length) + " bytes at offset " +
                 std::to_string(offset) + ") lies past the end of the file (" +
                 std::to_string(f_.size()) + " bytes)");
    }
    uint64_t le(uint64_t offset, unsigned bytes) const {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes; ++i)
            v |= uint64_t(f_[size_t(offset) + i]) << (8 * i);
        return v;
    }
    uint16_t u16(uint64_t o) const { return uint16_t(le(o, 2)); }
    uint32_t u32(uint64_t o) const { return uint32_t(le(o, 4)); }
    uint64_t u64(uint64_t o) const { return le(o, 8); }
    std::vector<uint8_t> bytes(uint64_t offset, uint64_t length) const {
        return {f_.begin() + ptrdiff_t(offset), f_.begin() + ptrdiff_t(offset + length)};
    }

private:
    const std::vector<uint8_t>& f_;
    const std::string& name_;
};

// The NUL-terminated string at `index` of string table `table`; "" if out of range.
std::string stringAt(const ElfSection& table, uint64_t index) {
    if (index >= table.bytes.size())
        return {};
    const char* start = reinterpret_cast<const char*>(table.bytes.data()) + index;
    size_t max = table.bytes.size() - size_t(index);
    return std::string(start, strnlen(start, max));
}

void readSymbols(const Reader& r, ElfFile& elf, const ElfSection& symtab) {
    if (symtab.entsize != kSymSize)
        r.fail("symbol table entry size " + std::to_string(symtab.entsize) + " is not 24");
    if (symtab.link >= elf.sections.size())
        r.fail("symbol table names string table " + std::to_string(symtab.link) +
               ", which does not exist");
    const ElfSection& strtab = elf.sections[symtab.link];
    const std::vector<uint8_t>& b = symtab.bytes;
    for (size_t o = 0; o + kSymSize <= b.size(); o += kSymSize) {
        ElfSymbol s;
        uint32_t nameIndex = uint32_t(b[o]) | uint32_t(b[o + 1]) << 8 | uint32_t(b[o + 2]) << 16 |
                             uint32_t(b[o + 3]) << 24;
        s.name = stringAt(strtab, nameIndex);
        s.type = b[o + 4] & 0xf;
        s.bind = b[o + 4] >> 4;
        s.shndx = uint16_t(b[o + 6] | b[o + 7] << 8);
        for (unsigned i = 0; i < 8; ++i) {
            s.value |= uint64_t(b[o + 8 + i]) << (8 * i);
            s.size |= uint64_t(b[o + 16 + i]) << (8 * i);
        }
        elf.symbols.push_back(std::move(s));
    }
}

void readRelocations(const Reader& r, ElfFile& elf, const ElfSection& rela, size_t index) {
    if (rela.entsize != kRelaSize)
        r.fail("relocation section " + std::to_string(index) + ": entry size " +
               std::to_string(rela.entsize) + " is not 24");
    if (rela.info >= elf.sections.size())
        r.fail("relocation section " + std::to_string(index) + " applies to section " +
               std::to_string(rela.info) + ", which does not exist");
    ElfRelocationSection out;
    out.target = rela.info;
    const std::vector<uint8_t>& b = rela.bytes;
    auto u64 = [&](size_t o) {
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; ++i)
            v |= uint64_t(b[o + i]) << (8 * i);
        return v;
    };
    for (size_t o = 0; o + kRelaSize <= b.size(); o += kRelaSize) {
        ElfRelocation e;
        e.offset = u64(o);
        uint64_t info = u64(o + 8);
        e.type = uint32_t(info);
        e.symbol = uint32_t(info >> 32);
        e.addend = int64_t(u64(o + 16));
        out.entries.push_back(e);
    }
    elf.relocations.push_back(std::move(out));
}

} // namespace

ElfFile readElfSections(const std::vector<uint8_t>& file, const std::string& name) {
    Reader r(file, name);
    if (file.size() < kEhdrSize || std::memcmp(file.data(),
                                               "\x7f"
                                               "ELF",
                                               4) != 0)
        r.fail("not an ELF file");
    if (file[4] != 2 || file[5] != 1)
        r.fail("not a little-endian 64-bit ELF file");
    ElfFile elf;
    elf.type = r.u16(16);
    elf.machine = r.u16(18);
    elf.entry = r.u64(24);
    uint64_t shoff = r.u64(40);
    elf.flags = r.u32(48);
    uint16_t shentsize = r.u16(58);
    uint64_t shnum = r.u16(60);
    uint32_t shstrndx = r.u16(62);
    if (shoff == 0)
        return elf; // no section headers
    if (shentsize != kShdrSize)
        r.fail("section header size " + std::to_string(shentsize) + " is not 64");
    r.need(shoff, kShdrSize, "the first section header");
    if (shnum == 0) // more than 0xff00 sections: the count is in section 0
        shnum = r.u64(shoff + 32);
    if (shstrndx == 0xffff)
        shstrndx = r.u32(shoff + 40);
    if (shnum > file.size() / kShdrSize)
        r.fail(std::to_string(shnum) + " section headers cannot fit in the file");
    r.need(shoff, shnum * kShdrSize, "the section header table");
    std::vector<uint32_t> nameIndex;
    for (uint64_t i = 0; i < shnum; ++i) {
        uint64_t h = shoff + i * kShdrSize;
        ElfSection s;
        nameIndex.push_back(r.u32(h));
        s.type = r.u32(h + 4);
        s.flags = r.u64(h + 8);
        s.addr = r.u64(h + 16);
        s.offset = r.u64(h + 24);
        s.size = r.u64(h + 32);
        s.link = r.u32(h + 40);
        s.info = r.u32(h + 44);
        s.align = r.u64(h + 48);
        s.entsize = r.u64(h + 56);
        if (i != 0 && s.type != kShtNobits && s.type != 0) {
            r.need(s.offset, s.size, "section " + std::to_string(i));
            s.bytes = r.bytes(s.offset, s.size);
        }
        elf.sections.push_back(std::move(s));
    }
    if (shstrndx != 0) {
        if (shstrndx >= elf.sections.size())
            r.fail("section name table index " + std::to_string(shstrndx) + " does not exist");
        const ElfSection names = elf.sections[shstrndx];
        for (size_t i = 0; i < elf.sections.size(); ++i)
            elf.sections[i].name = stringAt(names, nameIndex[i]);
    }
    for (size_t i = 0; i < elf.sections.size(); ++i) {
        const ElfSection& s = elf.sections[i];
        if (s.type == kShtSymtab && elf.symbols.empty())
            readSymbols(r, elf, s);
        else if (s.type == kShtRela)
            readRelocations(r, elf, s, i);
    }
    return elf;
}

std::string e2kRelocationName(uint32_t type) {
    // MCST binutils' include/elf/e2k.h numbers (facts, not code).
    static const struct {
        uint32_t type;
        const char* name;
    } kNames[] = {
        {0, "R_E2K_32_ABS"},
        {2, "R_E2K_32_PC"},
        {3, "R_E2K_AP_GOT"},
        {4, "R_E2K_PL_GOT"},
        {8, "R_E2K_32_JMP_SLOT"},
        {9, "R_E2K_32_COPY"},
        {10, "R_E2K_32_RELATIVE"},
        {11, "R_E2K_32_IRELATIVE"},
        {12, "R_E2K_32_SIZE"},
        {13, "R_E2K_32_DYNOPT"},
        {50, "R_E2K_64_ABS"},
        {51, "R_E2K_64_ABS_LIT"},
        {54, "R_E2K_64_PC_LIT"},
        {63, "R_E2K_64_JMP_SLOT"},
        {64, "R_E2K_64_COPY"},
        {65, "R_E2K_64_RELATIVE"},
        {66, "R_E2K_64_RELATIVE_LIT"},
        {67, "R_E2K_64_IRELATIVE"},
        {68, "R_E2K_64_SIZE"},
        {69, "R_E2K_64_GOTOFF"},
        {70, "R_E2K_TLS_GDMOD"},
        {71, "R_E2K_TLS_GDREL"},
        {74, "R_E2K_TLS_IE"},
        {75, "R_E2K_32_TLS_LE"},
        {76, "R_E2K_64_TLS_LE"},
        {80, "R_E2K_TLS_32_DTPMOD"},
        {81, "R_E2K_TLS_32_DTPREL"},
        {82, "R_E2K_TLS_64_DTPMOD"},
        {83, "R_E2K_TLS_64_DTPREL"},
        {84, "R_E2K_TLS_TPOFF32"},
        {85, "R_E2K_TLS_TPOFF64"},
        {100, "R_E2K_AP"},
        {101, "R_E2K_PL"},
        {108, "R_E2K_GOT"},
        {109, "R_E2K_GOTOFF"},
        {110, "R_E2K_DISP"},
        {111, "R_E2K_PREF"},
        {112, "R_E2K_NONE"},
        {114, "R_E2K_GOTPLT"},
        {115, "R_E2K_ISLOCAL"},
        {118, "R_E2K_ISLOCAL32"},
        {256, "R_E2K_64_GOTOFF_LIT"},
        {257, "R_E2K_64_DYNOPT"},
    };
    for (const auto& n : kNames)
        if (n.type == type)
            return n.name;
    return "R_E2K_" + std::to_string(type);
}

} // namespace e2kvm::emu

#include "emu/asm/ElfImage.h"

#include <cstring>
#include <stdexcept>

namespace e2kvm::emu {

namespace {

template <typename T> void put(std::vector<uint8_t>& out, size_t at, T v) {
    for (size_t i = 0; i < sizeof(T); ++i)
        out[at + i] = uint8_t(uint64_t(v) >> (8 * i));
}

template <typename T> T get(const std::vector<uint8_t>& in, size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
        v |= uint64_t(in[at + i]) << (8 * i);
    return T(v);
}

constexpr size_t kEhdr = 64, kPhdr = 56;

} // namespace

std::vector<uint8_t> writeElf(const AsmImage& img, uint32_t eFlags) {
    const bool hasData = !img.data.empty() || img.bssSize;
    const uint16_t phnum = hasData ? 2 : 1;
    const uint64_t textOff = 0x1000;
    const uint64_t dataOff = (textOff + img.text.size() + 0xFFF) & ~uint64_t(0xFFF);
    std::vector<uint8_t> out(hasData ? dataOff + img.data.size() : textOff + img.text.size(), 0);
    const uint8_t ident[16] = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(out.data(), ident, 16);
    put<uint16_t>(out, 16, 2); // ET_EXEC
    put<uint16_t>(out, 18, kEmMcstElbrus);
    put<uint32_t>(out, 20, 1);
    put<uint64_t>(out, 24, img.entry);
    put<uint64_t>(out, 32, kEhdr);
    put<uint64_t>(out, 40, 0);
    put<uint32_t>(out, 48, eFlags);
    put<uint16_t>(out, 52, kEhdr);
    put<uint16_t>(out, 54, kPhdr);
    put<uint16_t>(out, 56, phnum);
    put<uint16_t>(out, 58, 64);
    auto phdr = [&](unsigned i, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz,
                    uint64_t memsz) {
        size_t p = kEhdr + kPhdr * i;
        put<uint32_t>(out, p, 1); // PT_LOAD
        put<uint32_t>(out, p + 4, flags);
        put<uint64_t>(out, p + 8, off);
        put<uint64_t>(out, p + 16, vaddr);
        put<uint64_t>(out, p + 24, vaddr);
        put<uint64_t>(out, p + 32, filesz);
        put<uint64_t>(out, p + 40, memsz);
        put<uint64_t>(out, p + 48, 0x1000);
    };
    phdr(0, 5, textOff, img.textAddr, img.text.size(), img.text.size());
    std::memcpy(out.data() + textOff, img.text.data(), img.text.size());
    if (hasData) {
        uint64_t end = img.bssSize ? img.bssAddr + img.bssSize : img.dataAddr + img.data.size();
        phdr(1, 6, dataOff, img.dataAddr, img.data.size(), end - img.dataAddr);
        if (!img.data.empty()) // only .bss: no bytes to copy (and no buffer to copy from)
            std::memcpy(out.data() + dataOff, img.data.data(), img.data.size());
    }
    return out;
}

std::vector<uint8_t> writeFlat(const AsmImage& img) {
    std::vector<uint8_t> out = img.text;
    if (!img.data.empty()) {
        out.resize(img.dataAddr - img.textAddr, 0);
        out.insert(out.end(), img.data.begin(), img.data.end());
    }
    return out;
}

ElfExecutable readElf(const std::vector<uint8_t>& f, const std::string& name) {
    auto bad = [&](const std::string& why) -> std::runtime_error {
        return std::runtime_error(name + ": " + why);
    };
    if (f.size() < kEhdr || std::memcmp(f.data(),
                                        "\x7F"
                                        "ELF",
                                        4) != 0)
        throw bad("not an ELF file");
    if (f[4] != 2 || f[5] != 1)
        throw bad("not a little-endian ELF64 file");
    if (get<uint16_t>(f, 16) != 2)
        throw bad("not a static executable (ET_EXEC)");
    uint16_t machine = get<uint16_t>(f, 18);
    if (machine != kEmMcstElbrus && machine != 49)
        throw bad("not an E2K executable (e_machine " + std::to_string(machine) + ")");
    ElfExecutable exe;
    exe.entry = get<uint64_t>(f, 24);
    exe.flags = get<uint32_t>(f, 48);
    uint64_t phoff = get<uint64_t>(f, 32);
    uint16_t phentsize = get<uint16_t>(f, 54), phnum = get<uint16_t>(f, 56);
    if (phentsize < kPhdr || phnum > 64 || phoff > f.size() ||
        uint64_t(phentsize) * phnum > f.size() - phoff)
        throw bad("program headers out of range");
    for (unsigned i = 0; i < phnum; ++i) {
        size_t p = phoff + size_t(phentsize) * i;
        uint32_t type = get<uint32_t>(f, p);
        if (type == 3)
            throw bad("dynamically linked executables are not supported");
        if (type != 1)
            continue;
        ElfSegment s;
        s.flags = get<uint32_t>(f, p + 4);
        uint64_t off = get<uint64_t>(f, p + 8);
        s.vaddr = get<uint64_t>(f, p + 16);
        uint64_t filesz = get<uint64_t>(f, p + 32);
        s.memSize = get<uint64_t>(f, p + 40);
        if (off > f.size() || filesz > f.size() - off || filesz > s.memSize)
            throw bad("segment " + std::to_string(i) + " out of range");
        if (s.memSize > (uint64_t(1) << 36) || s.vaddr + s.memSize < s.vaddr)
            throw bad("segment " + std::to_string(i) + " too large");
        s.bytes.assign(f.begin() + long(off), f.begin() + long(off + filesz));
        exe.segments.push_back(std::move(s));
    }
    if (exe.segments.empty())
        throw bad("no loadable segments");
    return exe;
}

} // namespace e2kvm::emu

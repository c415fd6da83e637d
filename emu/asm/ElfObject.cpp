#include "emu/asm/ElfObject.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/ElfImage.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <string>

namespace e2kvm::emu {

namespace {

constexpr uint32_t kShtSymtab = 2, kShtStrtab = 3, kShtRela = 4, kShtNobits = 8;
constexpr uint64_t kShfInfoLink = 0x40;
constexpr uint16_t kShnAbs = 0xFFF1;

// A string table as BFD builds it: a string that ends another one in the table shares its
// bytes; the others are placed in the order they were added.
class StringTable {
public:
    void add(const std::string& s) {
        if (!s.empty() && std::find(strings_.begin(), strings_.end(), s) == strings_.end())
            strings_.push_back(s);
    }

    void finish() {
        bytes_.assign(1, '\0');
        std::vector<std::string> own;
        for (const std::string& s : strings_) {
            bool suffix = false;
            for (const std::string& t : strings_)
                if (t.size() > s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0)
                    suffix = true;
            if (!suffix) {
                offsets_[s] = uint32_t(bytes_.size());
                bytes_.insert(bytes_.end(), s.begin(), s.end());
                bytes_.push_back('\0');
                own.push_back(s);
            }
        }
        for (const std::string& s : strings_) {
            if (offsets_.count(s))
                continue;
            // Shares the bytes of the first longer string it ends.
            for (const std::string& t : own)
                if (t.size() > s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0) {
                    offsets_[s] = offsets_[t] + uint32_t(t.size() - s.size());
                    break;
                }
        }
    }

    uint32_t offset(const std::string& s) const { return s.empty() ? 0 : offsets_.at(s); }
    const std::vector<uint8_t>& bytes() const { return bytes_; }

private:
    std::vector<std::string> strings_;
    std::map<std::string, uint32_t> offsets_;
    std::vector<uint8_t> bytes_;
};

template <typename T> void put(std::vector<uint8_t>& out, size_t at, T v) {
    for (size_t i = 0; i < sizeof(T); ++i)
        out[at + i] = uint8_t(uint64_t(v) >> (8 * i));
}

struct Header {
    std::string name;
    uint32_t type = 0;
    uint64_t flags = 0, offset = 0, size = 0, align = 1, entsize = 0;
    uint32_t link = 0, info = 0;
    std::vector<uint8_t> data;
};

struct SymEntry {
    std::string name;
    uint8_t info = 0;
    uint16_t shndx = 0;
    uint64_t value = 0, size = 0;
};

} // namespace

std::vector<uint8_t> writeObject(const AsmObject& obj, uint32_t eFlags) {
    // Section headers: null, each section followed by its .rela section, then .symtab,
    // .strtab and .shstrtab.
    std::vector<Header> hdrs(1);
    std::map<std::string, uint16_t> secIndex;
    std::vector<size_t> relaOf(obj.sections.size(), 0);
    for (size_t i = 0; i < obj.sections.size(); ++i) {
        const AsmSection& s = obj.sections[i];
        Header h;
        h.name = s.name;
        h.type = s.type;
        h.flags = s.flags;
        h.size = s.size;
        h.align = s.align;
        if (s.type != kShtNobits)
            h.data = s.bytes;
        secIndex[s.name] = uint16_t(hdrs.size());
        hdrs.push_back(h);
        if (!s.relocations.empty()) {
            relaOf[i] = hdrs.size();
            Header r;
            r.name = ".rela" + s.name;
            r.type = kShtRela;
            r.flags = kShfInfoLink;
            r.align = 8;
            r.entsize = 24;
            r.info = secIndex[s.name];
            hdrs.push_back(r);
        }
    }
    const size_t symtabIdx = hdrs.size(), strtabIdx = symtabIdx + 1, shstrIdx = symtabIdx + 2;

    // Symbols: null, section symbols interleaved with local symbols in the order the
    // assembler created them, then the global ones.
    std::vector<SymEntry> locals(1), globals;
    std::map<std::string, size_t> sectionSymbol; // name -> position in `locals`
    auto addSectionSymbol = [&](const std::string& name) {
        if (sectionSymbol.count(name))
            return;
        SymEntry e;
        e.info = 3; // STB_LOCAL, STT_SECTION
        e.shndx = secIndex.at(name);
        sectionSymbol[name] = locals.size();
        locals.push_back(e);
    };
    std::map<std::string, size_t> globalIndex;
    for (const AsmSymbol& s : obj.symbols) {
        if (s.sectionSymbol) {
            addSectionSymbol(s.section);
            continue;
        }
        SymEntry e;
        e.name = s.name;
        uint8_t bind = s.weak ? 2 : s.global || s.section == "*UND*" ? 1 : 0;
        e.info = uint8_t(bind << 4 | s.type);
        e.shndx = s.section.empty() ? kShnAbs : s.section == "*UND*" ? 0 : secIndex.at(s.section);
        e.value = s.value;
        e.size = s.size;
        if (bind == 0) {
            locals.push_back(e);
        } else {
            globalIndex[s.name] = globals.size();
            globals.push_back(e);
        }
    }
    for (const AsmSection& s : obj.sections)
        addSectionSymbol(s.name);
    std::map<std::string, size_t> localIndex;
    for (size_t i = 1; i < locals.size(); ++i)
        if (!locals[i].name.empty())
            localIndex[locals[i].name] = i;

    StringTable strtab;
    for (const SymEntry& e : locals)
        strtab.add(e.name);
    for (const SymEntry& e : globals)
        strtab.add(e.name);
    strtab.finish();
    std::vector<uint8_t> symbytes((locals.size() + globals.size()) * 24, 0);
    auto writeSym = [&](size_t i, const SymEntry& e) {
        size_t p = i * 24;
        put<uint32_t>(symbytes, p, strtab.offset(e.name));
        symbytes[p + 4] = e.info;
        put<uint16_t>(symbytes, p + 6, e.shndx);
        put<uint64_t>(symbytes, p + 8, e.value);
        put<uint64_t>(symbytes, p + 16, e.size);
    };
    for (size_t i = 0; i < locals.size(); ++i)
        writeSym(i, locals[i]);
    for (size_t i = 0; i < globals.size(); ++i)
        writeSym(locals.size() + i, globals[i]);

    // Relocations.
    for (size_t i = 0; i < obj.sections.size(); ++i) {
        if (!relaOf[i])
            continue;
        Header& r = hdrs[relaOf[i]];
        r.link = uint32_t(symtabIdx);
        for (const AsmRelocation& rel : obj.sections[i].relocations) {
            size_t sym;
            if (rel.sectionSymbol)
                sym = sectionSymbol.at(rel.symbol);
            else if (globalIndex.count(rel.symbol))
                sym = locals.size() + globalIndex.at(rel.symbol);
            else if (localIndex.count(rel.symbol))
                sym = localIndex.at(rel.symbol);
            else
                throw AsmError("relocation against unknown symbol " + rel.symbol);
            size_t p = r.data.size();
            r.data.resize(p + 24);
            put<uint64_t>(r.data, p, rel.offset);
            put<uint64_t>(r.data, p + 8, uint64_t(sym) << 32 | rel.type);
            put<int64_t>(r.data, p + 16, rel.addend);
        }
        r.size = r.data.size();
    }

    Header sym;
    sym.name = ".symtab";
    sym.type = kShtSymtab;
    sym.align = 8;
    sym.entsize = 24;
    sym.link = uint32_t(strtabIdx);
    sym.info = uint32_t(locals.size());
    sym.data = symbytes;
    sym.size = symbytes.size();
    hdrs.push_back(sym);
    Header str;
    str.name = ".strtab";
    str.type = kShtStrtab;
    str.data = strtab.bytes();
    str.size = str.data.size();
    hdrs.push_back(str);
    StringTable shstr;
    shstr.add(".symtab");
    shstr.add(".strtab");
    shstr.add(".shstrtab");
    for (const Header& h : hdrs)
        shstr.add(h.name);
    shstr.finish();
    Header sh;
    sh.name = ".shstrtab";
    sh.type = kShtStrtab;
    sh.data = shstr.bytes();
    sh.size = sh.data.size();
    hdrs.push_back(sh);

    // File layout: the sections' contents, .symtab, .strtab, the .rela sections, .shstrtab,
    // then the section header table.
    uint64_t at = 64;
    auto place = [&](Header& h) {
        uint64_t a = std::max<uint64_t>(h.align, 1);
        at = (at + a - 1) / a * a;
        h.offset = at;
        if (h.type != kShtNobits)
            at += h.size;
    };
    for (size_t i = 1; i < symtabIdx; ++i)
        if (hdrs[i].type != kShtRela)
            place(hdrs[i]);
    place(hdrs[symtabIdx]);
    place(hdrs[strtabIdx]);
    for (size_t i = 1; i < symtabIdx; ++i)
        if (hdrs[i].type == kShtRela)
            place(hdrs[i]);
    place(hdrs[shstrIdx]);
    const uint64_t shoff = (at + 7) & ~uint64_t(7);
    std::vector<uint8_t> out(shoff + 64 * hdrs.size(), 0);
    const uint8_t ident[16] = {0x7F, 'E', 'L', 'F', 2, 1, 1, 0};
    std::memcpy(out.data(), ident, 16);
    put<uint16_t>(out, 16, 1); // ET_REL
    put<uint16_t>(out, 18, kEmMcstElbrus);
    put<uint32_t>(out, 20, 1);
    put<uint64_t>(out, 40, shoff);
    put<uint32_t>(out, 48, eFlags);
    put<uint16_t>(out, 52, 64);
    put<uint16_t>(out, 58, 64);
    put<uint16_t>(out, 60, uint16_t(hdrs.size()));
    put<uint16_t>(out, 62, uint16_t(shstrIdx));
    for (size_t i = 1; i < hdrs.size(); ++i) {
        const Header& h = hdrs[i];
        if (h.type != kShtNobits && !h.data.empty())
            std::memcpy(out.data() + h.offset, h.data.data(), h.data.size());
        size_t p = shoff + 64 * i;
        put<uint32_t>(out, p, shstr.offset(h.name));
        put<uint32_t>(out, p + 4, h.type);
        put<uint64_t>(out, p + 8, h.flags);
        put<uint64_t>(out, p + 24, h.offset);
        put<uint64_t>(out, p + 32, h.size);
        put<uint32_t>(out, p + 40, h.link);
        put<uint32_t>(out, p + 44, h.info);
        put<uint64_t>(out, p + 48, h.align);
        put<uint64_t>(out, p + 56, h.entsize);
    }
    return out;
}

} // namespace e2kvm::emu

#include "emu/asm/Assembler.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/AsmText.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/Expression.h"
#include "emu/asm/PrefetchInstruction.h"
#include "emu/asm/SourceStatements.h"
#include "emu/cpu/Bundle.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace e2kvm::emu {

namespace {

constexpr uint64_t kShfWrite = 1, kShfAlloc = 2, kShfExec = 4;
constexpr uint32_t kShtProgbits = 1, kShtNobits = 8;
const char* const kUndefined = "*UND*";
const char kSectionMark = '\x01'; // in the symbol order: a section was created here

struct Statement {
    int line;
    enum Kind { Label, Bundle, Directive, Assign } kind;
    bool braced = true;           // a bundle in braces (else one operation on its own)
    std::string name;             // label, directive or assigned symbol
    std::string args;             // directive arguments or assigned expression
    std::vector<std::string> ops; // bundle operations
};

bool isIdentifier(const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
        return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$'))
            return false;
    return true;
}

std::vector<Statement> parse(const std::string& source, const std::string& file) {
    std::vector<Statement> out;
    bool inBundle = false;
    int bundleLine = 0;
    std::vector<std::string> ops;
    for (const SourceStatement& st : readStatements(source, file)) {
        const std::string& t = st.text;
        auto fail = [&](const std::string& msg) {
            throw AsmError(file + ":" + std::to_string(st.line) + ": " + msg);
        };
        if (t == "{") {
            if (inBundle)
                fail("'{' inside a bundle");
            inBundle = true;
            bundleLine = st.line;
            ops.clear();
            continue;
        }
        if (t == "}") {
            if (!inBundle)
                fail("'}' without a bundle");
            out.push_back({bundleLine, Statement::Bundle, true, "", "", ops});
            inBundle = false;
            continue;
        }
        if (t.back() == ':' && t.find_first_of(" \t") == std::string::npos) {
            if (inBundle)
                fail("a label inside a bundle");
            out.push_back({st.line, Statement::Label, true, t.substr(0, t.size() - 1), "", {}});
            continue;
        }
        if (inBundle) {
            ops.push_back(t);
            continue;
        }
        size_t eq = t.find('=');
        if (eq != std::string::npos && isIdentifier(trim(t.substr(0, eq))) &&
            (eq + 1 >= t.size() || t[eq + 1] != '=')) {
            out.push_back({st.line,
                           Statement::Assign,
                           true,
                           trim(t.substr(0, eq)),
                           trim(t.substr(eq + 1)),
                           {}});
            continue;
        }
        if (t[0] == '.' && t.rfind(".als", 0) != 0) {
            size_t sp = t.find_first_of(" \t");
            out.push_back({st.line,
                           Statement::Directive,
                           true,
                           t.substr(0, sp),
                           sp == std::string::npos ? "" : trim(t.substr(sp)),
                           {}});
            continue;
        }
        out.push_back({st.line, Statement::Bundle, false, "", "", {t}});
    }
    if (inBundle)
        throw AsmError(file + ":" + std::to_string(bundleLine) + ": unterminated bundle");
    return out;
}

std::vector<std::string> splitArgs(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    bool quote = false;
    int depth = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            cur += c;
            if (c == '\\' && i + 1 < s.size())
                cur += s[++i];
            else if (c == '"')
                quote = false;
            continue;
        }
        if (c == '"')
            quote = true;
        else if (c == '(')
            ++depth;
        else if (c == ')')
            --depth;
        if (c == ',' && depth == 0) {
            out.push_back(trim(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!trim(cur).empty() || !out.empty())
        out.push_back(trim(cur));
    return out;
}

// A sequence of adjacent string literals ("a" "b") with C escapes.
std::string parseStrings(const std::string& s) {
    std::string out;
    size_t i = 0;
    auto skip = [&] {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
            ++i;
    };
    skip();
    if (i >= s.size())
        throw AsmError("expected a quoted string");
    while (i < s.size()) {
        if (s[i] != '"')
            throw AsmError("expected a quoted string");
        ++i;
        for (;;) {
            if (i >= s.size())
                throw AsmError("unterminated string");
            char c = s[i++];
            if (c == '"')
                break;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= s.size())
                throw AsmError("unterminated string");
            char e = s[i++];
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'x': {
                unsigned v = 0;
                while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i])))
                    v = v * 16 + unsigned(std::isdigit(static_cast<unsigned char>(s[i]))
                                              ? s[i] - '0'
                                              : std::tolower(s[i]) - 'a' + 10),
                    ++i;
                out += char(v);
                break;
            }
            default:
                if (e >= '0' && e <= '7') {
                    unsigned v = unsigned(e - '0');
                    for (int k = 0; k < 2 && i < s.size() && s[i] >= '0' && s[i] <= '7'; ++k)
                        v = v * 8 + unsigned(s[i++] - '0');
                    out += char(v);
                } else {
                    out += e;
                }
            }
        }
        skip();
    }
    return out;
}

class Assembly {
public:
    Assembly(const std::string& file, bool relocatable, const AsmOptions& opt)
        : file_(file), relocatable_(relocatable), opt_(opt) {}

    void run(const std::vector<Statement>& stmts) {
        section(".text");
        section(".data");
        section(".bss");
        pass(stmts, false);
        // Lay out the sections from the previous pass's sizes, and repeat until no label
        // moves: a bundle's size can depend on the values of the symbols it uses (literal
        // packing), which the first pass does not know yet.
        std::map<std::string, std::pair<int, uint64_t>> placed;
        for (int round = 0;; ++round) {
            layOut();
            auto now = labelPlaces();
            if (round > 0 && now == placed)
                break;
            if (round == 16)
                throw AsmError(file_ + ": label addresses do not settle");
            placed = std::move(now);
            firstPass_ = false;
            pass(stmts, false);
        }
        pass(stmts, true);
        if (labelPlaces() != placed)
            throw AsmError(file_ + ": a label moved in the final pass");
    }

    AsmImage image() const {
        AsmImage img;
        img.textAddr = opt_.textBase;
        img.dataAddr = dataBase_;
        img.bssAddr = bssBase_;
        for (size_t i = 0; i < secs_.size(); ++i) {
            const Sec& s = secs_[i];
            if (s.meta.type == kShtNobits) {
                img.bssSize = std::max(img.bssSize, base_[i] + s.offset - bssBase_);
                continue;
            }
            std::vector<uint8_t>& part = (s.meta.flags & kShfWrite) ? img.data : img.text;
            uint64_t start = (s.meta.flags & kShfWrite) ? dataBase_ : opt_.textBase;
            if (s.offset == 0)
                continue;
            part.resize(base_[i] - start, 0);
            part.insert(part.end(), s.bytes.begin(), s.bytes.end());
        }
        for (const auto& [name, sym] : syms_)
            if (sym.kind != Sym::Undefined)
                img.symbols[name] = uint64_t(valueOf(sym).value);
        img.entry = img.symbols.count("_start") ? img.symbols.at("_start") : img.textAddr;
        return img;
    }

    AsmObject object() const {
        AsmObject obj;
        for (const Sec& s : secs_) {
            AsmSection out = s.meta;
            out.size = s.offset;
            // MCST's as aligns the standard data sections to 16 bytes once they hold data,
            // when they were entered with .data, .bss or .section (not only .pushsection).
            if (s.offset && s.enteredDirectly &&
                (out.name == ".data" || out.name == ".bss" || out.name == ".rodata"))
                out.align = std::max<uint64_t>(out.align, 16);
            out.bytes = s.bytes;
            out.relocations = s.relocs;
            obj.sections.push_back(std::move(out));
        }
        for (const std::string& name : order_) {
            if (name[0] == kSectionMark) {
                AsmSymbol a;
                a.section = name.substr(1);
                a.sectionSymbol = true;
                obj.symbols.push_back(a);
                continue;
            }
            const Sym& sym = syms_.at(name);
            if (!sym.global && !sym.weak &&
                (name.rfind(".L", 0) == 0 || name.find('\x02') != std::string::npos))
                continue;
            if (sym.kind == Sym::Undefined && !sym.referenced && !sym.global && !sym.weak)
                continue;
            AsmSymbol a;
            a.name = name;
            a.global = sym.global;
            a.weak = sym.weak;
            a.type = sym.type;
            a.size = sym.size;
            if (sym.kind == Sym::Label) {
                a.section = secs_[size_t(sym.section)].meta.name;
                a.value = sym.offset;
            } else if (sym.kind == Sym::Equ) {
                a.section = sym.equ.section;
                a.value = uint64_t(sym.equ.value);
            } else {
                a.section = kUndefined;
            }
            obj.symbols.push_back(a);
        }
        return obj;
    }

private:
    struct Sec {
        AsmSection meta;
        uint64_t offset = 0;
        std::vector<uint8_t> bytes;
        std::vector<AsmRelocation> relocs;
        bool enteredDirectly = false; // by .data, .bss, .text or .section
    };

    struct Sym {
        enum Kind { Undefined, Label, Equ } kind = Undefined;
        int section = 0;
        uint64_t offset = 0;
        ExprValue equ;
        bool global = false, weak = false, referenced = false;
        uint8_t type = 0;
        uint64_t size = 0;
        int definedInPass = -1;
    };

    [[noreturn]] void fail(int line, const std::string& msg) const {
        throw AsmError(file_ + ":" + std::to_string(line) + ": " + msg);
    }

    // The section's index, created with GNU as's defaults for well-known names.
    int section(const std::string& name) {
        for (size_t i = 0; i < secs_.size(); ++i)
            if (secs_[i].meta.name == name)
                return int(i);
        Sec s;
        s.meta.name = name;
        s.meta.flags = kShfAlloc;
        auto starts = [&](const char* p) {
            std::string pre = p;
            return name == pre || name.rfind(pre + ".", 0) == 0;
        };
        if (starts(".text"))
            s.meta.flags |= kShfExec;
        else if (starts(".data") || starts(".bss") || starts(".tbss") || starts(".tdata"))
            s.meta.flags |= kShfWrite;
        else if (!starts(".rodata"))
            s.meta.flags = 0;
        if (starts(".bss") || starts(".tbss"))
            s.meta.type = kShtNobits;
        secs_.push_back(std::move(s));
        base_.push_back(0);
        order_.push_back(kSectionMark + name);
        return int(secs_.size() - 1);
    }

    std::map<std::string, std::pair<int, uint64_t>> labelPlaces() const {
        std::map<std::string, std::pair<int, uint64_t>> m;
        for (const auto& [name, sym] : syms_)
            if (sym.kind == Sym::Label)
                m[name] = {sym.section,
                           relocatable_ ? sym.offset : base_[size_t(sym.section)] + sym.offset};
        return m;
    }

    void layOut() {
        if (relocatable_)
            return;
        // Read-only sections follow .text; writable ones start on the next page; NOBITS last.
        uint64_t at = opt_.textBase;
        auto place = [&](size_t i) {
            uint64_t a = std::max<uint64_t>(secs_[i].meta.align, 1);
            at = (at + a - 1) / a * a;
            base_[i] = at;
            at += secs_[i].offset;
        };
        for (size_t i = 0; i < secs_.size(); ++i)
            if (!(secs_[i].meta.flags & kShfWrite) && secs_[i].meta.type != kShtNobits)
                place(i);
        at = (at + 0xFFF) & ~uint64_t(0xFFF);
        dataBase_ = at;
        for (size_t i = 0; i < secs_.size(); ++i)
            if ((secs_[i].meta.flags & kShfWrite) && secs_[i].meta.type != kShtNobits)
                place(i);
        at = (at + 15) & ~uint64_t(15);
        bssBase_ = at;
        for (size_t i = 0; i < secs_.size(); ++i)
            if (secs_[i].meta.type == kShtNobits)
                place(i);
    }

    ExprValue valueOf(const Sym& s) const {
        ExprValue v;
        if (s.kind == Sym::Equ)
            return s.equ;
        if (s.kind == Sym::Label) {
            if (relocatable_) {
                v.value = int64_t(s.offset);
                v.section = secs_[size_t(s.section)].meta.name;
            } else {
                v.value = int64_t(base_[size_t(s.section)] + s.offset);
            }
        }
        return v;
    }

    std::string localLabelName(const std::string& ref) const {
        std::string digits = ref.substr(0, ref.size() - 1);
        char dir = char(std::tolower(static_cast<unsigned char>(ref.back())));
        auto it = localCount_.find(digits);
        unsigned n = it == localCount_.end() ? 0 : it->second;
        if (dir == 'b') {
            if (n == 0)
                return "";
            return digits + '\x02' + std::to_string(n - 1);
        }
        return digits + '\x02' + std::to_string(n);
    }

    std::optional<ExprValue> lookup(const std::string& ref) {
        std::string name = ref;
        if (std::isdigit(static_cast<unsigned char>(ref[0]))) {
            name = localLabelName(ref);
            if (name.empty())
                throw AsmError("no earlier local label " + ref.substr(0, ref.size() - 1));
        }
        mention(name);
        Sym& s = syms_[name];
        s.referenced = true;
        if (s.kind == Sym::Undefined) {
            if (std::isdigit(static_cast<unsigned char>(ref[0])) && final_)
                throw AsmError("no later local label " + ref.substr(0, ref.size() - 1));
            if (!relocatable_)
                return std::nullopt;
            ExprValue v;
            v.section = kUndefined;
            v.symbol = name;
            v.symbolic = true;
            v.external = true;
            return v;
        }
        ExprValue v = valueOf(s);
        // An image's literals from symbols take 32 bits whatever their value, so that sizes
        // settle while the layout changes.
        if (!relocatable_)
            v.symbolic = true;
        if (s.kind == Sym::Label) {
            v.symbolic = true;
            v.external = s.global || s.weak;
        }
        if (v.relocatable() && v.symbol.empty())
            v.symbol = name;
        return v;
    }

    void mention(const std::string& name) {
        if (!syms_.count(name))
            order_.push_back(name);
        syms_[name];
    }

    ExprValue dot() const {
        ExprValue d;
        if (relocatable_) {
            d.value = int64_t(secs_[size_t(sec_)].offset);
            d.section = secs_[size_t(sec_)].meta.name;
        } else {
            d.value = int64_t(base_[size_t(sec_)] + secs_[size_t(sec_)].offset);
        }
        return d;
    }

    ExprValue eval(const std::string& e) {
        ExprLookup look = [this](const std::string& n) { return lookup(n); };
        return evaluate(e, dot(), look, final_);
    }

    int64_t absolute(const std::string& e) {
        ExprValue v = eval(e);
        if (v.relocatable())
            throw AsmError("'" + e + "' must be an absolute value");
        return v.value;
    }

    void emit(const void* p, size_t n) {
        Sec& s = secs_[size_t(sec_)];
        if (s.meta.type == kShtNobits) {
            for (size_t i = 0; i < n; ++i)
                if (static_cast<const uint8_t*>(p)[i])
                    throw AsmError(s.meta.name + " can only hold zeros");
        } else if (final_) {
            const uint8_t* b = static_cast<const uint8_t*>(p);
            s.bytes.insert(s.bytes.end(), b, b + n);
        }
        s.offset += n;
    }

    void fill(uint64_t n, uint8_t byte) {
        Sec& s = secs_[size_t(sec_)];
        if (s.meta.type == kShtNobits && byte)
            throw AsmError(s.meta.name + " can only hold zeros");
        if (final_ && s.meta.type != kShtNobits)
            s.bytes.insert(s.bytes.end(), n, byte);
        s.offset += n;
    }

    void align(uint64_t a, uint8_t byte = 0) {
        if (a == 0)
            a = 1;
        if (a & (a - 1))
            throw AsmError("alignment must be a power of two");
        Sec& s = secs_[size_t(sec_)];
        s.meta.align = std::max(s.meta.align, a);
        if (s.offset % a)
            fill(a - s.offset % a, byte);
    }

    // A relocation against `v` at `offset` of the current section; returns its addend.
    int64_t relocate(uint64_t offset, uint32_t type, const ExprValue& v, int64_t extra = 0) {
        AsmRelocation r;
        r.offset = offset;
        r.type = type;
        const Sym* s = syms_.count(v.symbol) ? &syms_.at(v.symbol) : nullptr;
        if (v.section == kUndefined || (s && (s->global || s->weak))) {
            r.symbol = v.symbol;
            int64_t base = (s && s->kind != Sym::Undefined) ? valueOf(*s).value : 0;
            r.addend = v.value - base + extra;
        } else {
            r.symbol = v.section;
            r.sectionSymbol = true;
            r.addend = v.value + extra;
        }
        if (final_)
            secs_[size_t(sec_)].relocs.push_back(r);
        return r.addend;
    }

    void pass(const std::vector<Statement>& stmts, bool final) {
        final_ = final;
        ++passNo_;
        sec_ = 0;
        prevSec_ = 0;
        stack_.clear();
        localCount_.clear();
        for (Sec& s : secs_) {
            s.offset = 0;
            s.bytes.clear();
            s.relocs.clear();
        }
        for (const Statement& st : stmts) {
            try {
                switch (st.kind) {
                case Statement::Label:
                    label(st);
                    break;
                case Statement::Bundle:
                    bundle(st.ops, !st.braced);
                    break;
                case Statement::Directive:
                    directive(st);
                    break;
                case Statement::Assign:
                    assign(st.name, st.args);
                    break;
                }
            } catch (const AsmError& e) {
                std::string msg = e.what();
                if (msg.rfind(file_ + ":", 0) == 0)
                    throw;
                fail(st.line, msg);
            } catch (const std::invalid_argument& e) {
                fail(st.line, e.what());
            }
        }
    }

    void label(const Statement& st) {
        std::string name = st.name;
        bool numeric = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        });
        if (numeric)
            name = name + '\x02' + std::to_string(localCount_[st.name]++);
        else if (!isIdentifier(name))
            fail(st.line, "bad label '" + name + "'");
        mention(name);
        Sym& s = syms_[name];
        if (s.definedInPass == passNo_ || (s.kind == Sym::Equ && firstPass_))
            fail(st.line, "label '" + st.name + "' defined twice");
        Sec& sec = secs_[size_t(sec_)];
        if ((sec.meta.flags & kShfExec) && sec.offset % 8)
            align(8);
        s.kind = Sym::Label;
        s.section = sec_;
        s.offset = sec.offset;
        s.definedInPass = passNo_;
    }

    void assign(const std::string& name, const std::string& expr) {
        mention(name);
        ExprValue v = eval(expr);
        Sym& s = syms_[name];
        if (s.kind == Sym::Label)
            throw AsmError("symbol '" + name + "' is already a label");
        s.kind = Sym::Equ;
        s.equ = v;
    }

    void bundle(const std::vector<std::string>& ops, bool standalone) {
        Sec& s = secs_[size_t(sec_)];
        if (!(s.meta.flags & kShfExec))
            throw AsmError("bundles belong in .text (an executable section), not " + s.meta.name);
        align(8);
        uint64_t start = secs_[size_t(sec_)].offset;
        std::vector<BundleFixup> fixups;
        BundleContext ctx;
        ctx.dot = dot();
        ctx.lookup = [this](const std::string& n) { return lookup(n); };
        ctx.finalPass = final_;
        ctx.objectMode = relocatable_;
        ctx.fixups = &fixups;
        ctx.standalone = standalone;
        if (std::any_of(ops.begin(), ops.end(), isPrefetchOp)) {
            for (uint32_t w : encodePrefetchInstruction(ops, ctx.dot, ctx.lookup, final_)) {
                uint8_t le[4] = {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)};
                emit(le, 4);
            }
            return;
        }
        RawBundle b = encodeBundle(ops, ctx);
        std::vector<uint32_t> words = packBundle(b);
        const size_t firstReloc = secs_[size_t(sec_)].relocs.size();
        for (const BundleFixup& f : fixups) {
            unsigned tail = b.cdsCount + b.plsCount;
            if (f.kind == BundleFixup::Disp) {
                uint64_t at =
                    4 * (1 + unsigned(b.hasSs) + unsigned(__builtin_popcount(b.alsMask & 0x3F)));
                relocate(start + at, kRelE2kDisp, f.value, int64_t(at));
            } else {
                // LTS i is the (i+1)-th word before the PLS and CDS words.
                unsigned word = unsigned(words.size()) - tail - 1 - f.ltsIndex;
                // MCST's as also leaves the addend in a 64-bit literal, not in a 32-bit one.
                if (f.kind == BundleFixup::Literal64) {
                    int64_t a = relocate(start + 4 * (word - 1), kRelE2k64AbsLit, f.value);
                    words[word] = uint32_t(uint64_t(a));
                    words[word - 1] = uint32_t(uint64_t(a) >> 32);
                } else {
                    relocate(start + 4 * word, kRelE2k32Abs, f.value);
                    words[word] = 0;
                }
            }
        }
        // MCST's as lists a bundle's relocations in the order of the words they patch.
        std::vector<AsmRelocation>& relocs = secs_[size_t(sec_)].relocs;
        std::stable_sort(
            relocs.begin() + std::ptrdiff_t(firstReloc), relocs.end(),
            [](const AsmRelocation& x, const AsmRelocation& y) { return x.offset < y.offset; });
        for (uint32_t w : words) {
            uint8_t le[4] = {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16), uint8_t(w >> 24)};
            emit(le, 4);
        }
    }

    void switchTo(int idx) {
        if (idx != sec_) {
            prevSec_ = sec_;
            sec_ = idx;
        }
    }

    // ".section name[, "flags"[, @type]]"
    int sectionFromArgs(const std::vector<std::string>& args) {
        if (args.empty() || args[0].empty())
            throw AsmError(".section needs a name");
        std::string name = args[0];
        if (name.front() == '"')
            name = parseStrings(name);
        int idx = section(name);
        if (args.size() > 1 && final_ == false && firstPass_) {
            Sec& s = secs_[size_t(idx)];
            std::string f = parseStrings(args[1]);
            uint64_t flags = 0;
            for (char c : f)
                flags |= c == 'a' ? kShfAlloc : c == 'w' ? kShfWrite : c == 'x' ? kShfExec : 0;
            s.meta.flags = flags;
            if (args.size() > 2) {
                std::string t = args[2];
                if (t.find("nobits") != std::string::npos)
                    s.meta.type = kShtNobits;
                else if (t.find("progbits") != std::string::npos)
                    s.meta.type = kShtProgbits;
            }
        }
        return idx;
    }

    void directive(const Statement& st) {
        std::string d = st.name;
        for (char& c : d)
            c = char(std::tolower(static_cast<unsigned char>(c)));
        auto args = splitArgs(st.args);
        if (d == ".text" || d == ".data" || d == ".bss") {
            switchTo(section(d));
            secs_[size_t(sec_)].enteredDirectly = true;
        } else if (d == ".section") {
            switchTo(sectionFromArgs(args));
            secs_[size_t(sec_)].enteredDirectly = true;
        } else if (d == ".pushsection") {
            stack_.push_back({sec_, prevSec_});
            switchTo(sectionFromArgs(args));
        } else if (d == ".popsection") {
            if (stack_.empty())
                throw AsmError(".popsection without .pushsection");
            sec_ = stack_.back().first;
            prevSec_ = stack_.back().second;
            stack_.pop_back();
        } else if (d == ".previous") {
            std::swap(sec_, prevSec_);
        } else if (d == ".global" || d == ".globl" || d == ".weak" || d == ".local") {
            for (const std::string& a : args) {
                if (!isIdentifier(a))
                    throw AsmError(d + ": bad symbol name '" + a + "'");
                mention(a);
                Sym& s = syms_[a];
                s.global = d == ".global" || d == ".globl";
                s.weak = d == ".weak";
            }
        } else if (d == ".type") {
            if (args.size() != 2)
                throw AsmError(".type takes a name and a type");
            mention(args[0]);
            std::string t = args[1];
            if (!t.empty() && (t[0] == '#' || t[0] == '@' || t[0] == '%'))
                t = t.substr(1);
            uint8_t type = t == "function" || t == "STT_FUNC"   ? 2
                           : t == "object" || t == "STT_OBJECT" ? 1
                           : t == "notype" || t == "STT_NOTYPE" ? 0
                                                                : 255;
            if (type == 255)
                throw AsmError(".type: unknown type " + args[1]);
            syms_[args[0]].type = type;
        } else if (d == ".size") {
            if (args.size() != 2)
                throw AsmError(".size takes a name and a size");
            mention(args[0]);
            syms_[args[0]].size = uint64_t(absolute(args[1]));
        } else if (d == ".align" || d == ".balign" || d == ".p2align") {
            if (args.empty() || args.size() > 3)
                throw AsmError(d + " takes one to three arguments");
            uint64_t a = uint64_t(absolute(args[0]));
            if (d == ".p2align") {
                if (a > 16)
                    throw AsmError(".p2align too large");
                a = uint64_t(1) << a;
            }
            uint8_t byte = args.size() > 1 && !args[1].empty() ? uint8_t(absolute(args[1])) : 0;
            align(a, byte);
        } else if (d == ".byte" || d == ".hword" || d == ".half" || d == ".short" || d == ".word" ||
                   d == ".long" || d == ".int" || d == ".dword" || d == ".quad") {
            unsigned size = d == ".byte"                                       ? 1
                            : (d == ".hword" || d == ".half" || d == ".short") ? 2
                            : (d == ".word" || d == ".long" || d == ".int")    ? 4
                                                                               : 8;
            for (const std::string& a : args)
                data(a, size);
        } else if (d == ".ascii" || d == ".asciz" || d == ".string") {
            for (const std::string& a : args) {
                std::string s = parseStrings(a);
                if (d != ".ascii")
                    s.push_back('\0');
                emit(s.data(), s.size());
            }
        } else if (d == ".zero" || d == ".skip" || d == ".space") {
            if (args.empty() || args.size() > 2)
                throw AsmError(d + " takes a size and an optional fill byte");
            int64_t n = absolute(args[0]);
            if (n < 0 || n > (int64_t(1) << 30))
                throw AsmError(d + " size out of range");
            fill(uint64_t(n), args.size() > 1 ? uint8_t(absolute(args[1])) : 0);
        } else if (d == ".fill") {
            if (args.empty() || args.size() > 3)
                throw AsmError(".fill takes repeat, size and value");
            int64_t n = absolute(args[0]);
            int64_t size = args.size() > 1 ? absolute(args[1]) : 1;
            uint64_t v = args.size() > 2 ? uint64_t(absolute(args[2])) : 0;
            if (n < 0 || n > (int64_t(1) << 30) || size < 0 || size > 8)
                throw AsmError(".fill arguments out of range");
            for (int64_t i = 0; i < n; ++i)
                for (int64_t b = 0; b < size; ++b) {
                    // GNU as stores at most 4 bytes of the value; the rest are zero.
                    uint8_t byte = b < 4 ? uint8_t(v >> (8 * b)) : 0;
                    emit(&byte, 1);
                }
        } else if (d == ".equ" || d == ".set") {
            if (args.size() != 2)
                throw AsmError(d + " takes a name and a value");
            assign(args[0], args[1]);
        } else if (d == ".file" || d == ".ident") {
            // no debugging or comment sections in our output
        } else {
            throw AsmError("unknown directive " + st.name);
        }
    }

    void data(const std::string& expr, unsigned size) {
        ExprValue v = eval(expr);
        uint64_t at = secs_[size_t(sec_)].offset;
        uint64_t raw = uint64_t(v.value);
        if (v.relocatable()) {
            if (size != 8 && size != 4)
                throw AsmError("a relocatable value needs .word or .quad, not a " +
                               std::to_string(size) + "-byte field");
            relocate(at, size == 8 ? kRelE2k64Abs : kRelE2k32Abs, v);
            raw = 0; // RELA: the addend lives in the relocation
        }
        uint8_t le[8];
        for (unsigned i = 0; i < 8; ++i)
            le[i] = uint8_t(raw >> (8 * i));
        emit(le, size);
    }

    std::string file_;
    bool relocatable_;
    AsmOptions opt_;
    std::vector<Sec> secs_;
    std::vector<uint64_t> base_;
    uint64_t dataBase_ = 0, bssBase_ = 0;
    std::map<std::string, Sym> syms_;
    std::vector<std::string> order_;
    std::map<std::string, unsigned> localCount_;
    std::vector<std::pair<int, int>> stack_;
    bool final_ = false;
    bool firstPass_ = true;
    int passNo_ = 0;
    int sec_ = 0, prevSec_ = 0;
};

} // namespace

AsmImage assemble(const std::string& source, const std::string& fileName,
                  const AsmOptions& options) {
    auto stmts = parse(source, fileName);
    Assembly a(fileName, false, options);
    a.run(stmts);
    return a.image();
}

AsmObject assembleObject(const std::string& source, const std::string& fileName) {
    auto stmts = parse(source, fileName);
    Assembly a(fileName, true, {});
    a.run(stmts);
    return a.object();
}

} // namespace e2kvm::emu

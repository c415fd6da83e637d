#include "emu/asm/Assembler.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/AsmText.h"
#include "emu/asm/BundleEncoder.h"

#include <cctype>
#include <optional>
#include <sstream>

namespace e2kvm::emu {

namespace {

// Removes // and /* */ comments (not inside strings).
std::string stripComments(const std::string& src) {
    std::string out;
    bool quote = false;
    for (size_t i = 0; i < src.size(); ++i) {
        char c = src[i];
        if (c == '"' && (i == 0 || src[i - 1] != '\\'))
            quote = !quote;
        if (!quote && c == '/' && i + 1 < src.size() && src[i + 1] == '/') {
            while (i < src.size() && src[i] != '\n')
                ++i;
            out += '\n';
            continue;
        }
        if (!quote && c == '/' && i + 1 < src.size() && src[i + 1] == '*') {
            i += 2;
            while (i + 1 < src.size() && !(src[i] == '*' && src[i + 1] == '/')) {
                if (src[i] == '\n')
                    out += '\n';
                ++i;
            }
            ++i;
            continue;
        }
        out += c;
    }
    return out;
}

enum class Section { Text, Data, Bss };

struct Statement {
    int line;
    enum Kind { Label, Bundle, Directive } kind;
    std::string name;             // label or directive name
    std::string args;             // directive arguments
    std::vector<std::string> ops; // bundle operations
};

std::string parseString(const std::string& s, int line, const std::string& file) {
    std::string t = trim(s);
    if (t.size() < 2 || t.front() != '"' || t.back() != '"')
        throw AsmError(file + ":" + std::to_string(line) + ": expected a quoted string");
    std::string out;
    for (size_t i = 1; i + 1 < t.size(); ++i) {
        char c = t[i];
        if (c == '\\' && i + 2 < t.size()) {
            char e = t[++i];
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case '0':
                out += '\0';
                break;
            default:
                out += e;
            }
        } else {
            out += c;
        }
    }
    return out;
}

std::vector<Statement> parse(const std::string& source, const std::string& file) {
    std::vector<Statement> out;
    std::istringstream in(stripComments(source));
    std::string line;
    int lineNo = 0;
    bool inBundle = false;
    int bundleLine = 0;
    std::string bundleText;
    while (std::getline(in, line)) {
        ++lineNo;
        std::string t = trim(line);
        while (!t.empty()) {
            if (inBundle) {
                size_t close = t.find('}');
                if (close == std::string::npos) {
                    bundleText += t + ";";
                    t.clear();
                    break;
                }
                bundleText += t.substr(0, close);
                out.push_back({bundleLine, Statement::Bundle, "", "", splitOps(bundleText)});
                inBundle = false;
                t = trim(t.substr(close + 1));
                continue;
            }
            if (t[0] == '{') {
                inBundle = true;
                bundleLine = lineNo;
                bundleText.clear();
                t = trim(t.substr(1));
                continue;
            }
            // label?
            size_t colon = t.find(':');
            if (colon != std::string::npos) {
                std::string name = trim(t.substr(0, colon));
                bool ident = !name.empty();
                for (char c : name)
                    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
                          c == '$'))
                        ident = false;
                if (ident) {
                    out.push_back({lineNo, Statement::Label, name, "", {}});
                    t = trim(t.substr(colon + 1));
                    continue;
                }
            }
            if (t[0] == '.' && t.rfind(".als", 0) != 0) {
                size_t sp = t.find_first_of(" \t");
                out.push_back({lineNo,
                               Statement::Directive,
                               t.substr(0, sp),
                               sp == std::string::npos ? "" : trim(t.substr(sp)),
                               {}});
                t.clear();
                continue;
            }
            // A single operation outside braces is a one-op bundle.
            out.push_back({lineNo, Statement::Bundle, "", "", splitOps(t)});
            t.clear();
        }
    }
    if (inBundle)
        throw AsmError(file + ":" + std::to_string(bundleLine) + ": unterminated bundle");
    return out;
}

std::vector<std::string> splitArgs(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    bool quote = false;
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '"' && (i == 0 || s[i - 1] != '\\'))
            quote = !quote;
        if (c == ',' && !quote) {
            out.push_back(trim(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    if (!trim(cur).empty())
        out.push_back(trim(cur));
    return out;
}

class Assembly {
public:
    Assembly(const std::string& file, const AsmOptions& opt) : file_(file), opt_(opt) {}

    AsmImage run(const std::vector<Statement>& stmts) {
        base_[0] = opt_.textBase;
        pass(stmts, false);
        // Lay out the sections from the previous pass's sizes, and repeat until no label
        // moves: a bundle's size can depend on the values of the symbols it uses (literal
        // packing), which the first pass does not know yet.
        std::map<std::string, uint64_t> placed;
        for (int round = 0;; ++round) {
            layOut();
            std::map<std::string, uint64_t> now;
            for (auto& [name, sym] : symbols_)
                now[name] = value(sym);
            if (round > 0 && now == placed)
                break;
            if (round == 16)
                throw AsmError(file_ + ": label addresses do not settle");
            placed = std::move(now);
            firstPass_ = false;
            pass(stmts, false);
        }
        pass(stmts, true);
        for (auto& [name, sym] : symbols_)
            if (value(sym) != placed[name])
                throw AsmError(file_ + ": label '" + name + "' moved in the final pass");
        AsmImage img;
        img.textAddr = base_[0];
        img.text = bytes_[0];
        img.dataAddr = base_[1];
        img.data = bytes_[1];
        img.bssAddr = base_[2];
        img.bssSize = offset_[2];
        for (auto& [name, sym] : symbols_)
            img.symbols[name] = value(sym);
        img.entry = img.symbols.count("_start") ? img.symbols["_start"] : img.textAddr;
        return img;
    }

private:
    struct Symbol {
        bool isConst = false;
        int section = 0;
        uint64_t value = 0;
    };

    void layOut() {
        textSize_ = offset_[0];
        uint64_t dataAddr = (opt_.textBase + textSize_ + 0xFFF) & ~uint64_t(0xFFF);
        base_[0] = opt_.textBase;
        base_[1] = dataAddr;
        base_[2] = (dataAddr + offset_[1] + 15) & ~uint64_t(15);
    }

    uint64_t value(const Symbol& s) const {
        return s.isConst ? s.value : base_[s.section] + s.value;
    }

    [[noreturn]] void fail(int line, const std::string& msg) const {
        throw AsmError(file_ + ":" + std::to_string(line) + ": " + msg);
    }

    std::optional<uint64_t> lookup(const std::string& name) const {
        auto it = symbols_.find(name);
        if (it == symbols_.end())
            return std::nullopt;
        return value(it->second);
    }

    uint64_t here() const { return base_[sec_] + offset_[sec_]; }

    void emit(const void* p, size_t n, int line) {
        if (sec_ == 2) {
            for (size_t i = 0; i < n; ++i)
                if (static_cast<const uint8_t*>(p)[i])
                    fail(line, ".bss can only hold zeros");
        } else if (final_) {
            const uint8_t* b = static_cast<const uint8_t*>(p);
            bytes_[sec_].insert(bytes_[sec_].end(), b, b + n);
        }
        offset_[sec_] += n;
    }

    void align(uint64_t a, int line) {
        if (a == 0 || (a & (a - 1)))
            fail(line, "alignment must be a power of two");
        while (offset_[sec_] % a) {
            uint8_t z = 0;
            emit(&z, 1, line);
        }
    }

    void pass(const std::vector<Statement>& stmts, bool final) {
        final_ = final;
        sec_ = 0;
        for (int i = 0; i < 3; ++i) {
            offset_[i] = 0;
            bytes_[i].clear();
        }
        SymbolLookup look = [this](const std::string& n) { return lookup(n); };
        for (const Statement& st : stmts) {
            try {
                switch (st.kind) {
                case Statement::Label: {
                    auto it = symbols_.find(st.name);
                    if (firstPass_ && it != symbols_.end())
                        fail(st.line, "label '" + st.name + "' defined twice");
                    if (sec_ == 0 && offset_[0] % 8)
                        align(8, st.line);
                    symbols_[st.name] = Symbol{false, sec_, offset_[sec_]};
                    break;
                }
                case Statement::Bundle: {
                    if (sec_ != 0)
                        fail(st.line, "bundles belong in .text");
                    align(8, st.line);
                    RawBundle b = encodeBundle(st.ops, here(), look, final);
                    std::vector<uint32_t> words = packBundle(b);
                    for (uint32_t w : words) {
                        uint8_t le[4] = {uint8_t(w), uint8_t(w >> 8), uint8_t(w >> 16),
                                         uint8_t(w >> 24)};
                        emit(le, 4, st.line);
                    }
                    break;
                }
                case Statement::Directive:
                    directive(st, look);
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

    void directive(const Statement& st, const SymbolLookup& look) {
        const std::string& d = st.name;
        auto args = splitArgs(st.args);
        auto val = [&](const std::string& e) {
            return uint64_t(evalExpr(e, here(), look, final_));
        };
        if (d == ".text")
            sec_ = 0;
        else if (d == ".data")
            sec_ = 1;
        else if (d == ".bss")
            sec_ = 2;
        else if (d == ".global" || d == ".globl" || d == ".type" || d == ".size")
            ; // all symbols are visible in our images
        else if (d == ".align" || d == ".balign") {
            if (args.size() != 1)
                fail(st.line, d + " takes one argument");
            align(val(args[0]), st.line);
        } else if (d == ".byte" || d == ".half" || d == ".word" || d == ".dword" || d == ".quad") {
            unsigned size = d == ".byte" ? 1 : d == ".half" ? 2 : d == ".word" ? 4 : 8;
            for (const std::string& a : args) {
                uint64_t v = val(a);
                uint8_t le[8];
                for (unsigned i = 0; i < 8; ++i)
                    le[i] = uint8_t(v >> (8 * i));
                emit(le, size, st.line);
            }
        } else if (d == ".ascii" || d == ".asciz" || d == ".string") {
            for (const std::string& a : args) {
                std::string s = parseString(a, st.line, file_);
                if (d != ".ascii")
                    s.push_back('\0');
                emit(s.data(), s.size(), st.line);
            }
        } else if (d == ".zero" || d == ".skip" || d == ".space") {
            if (args.size() != 1)
                fail(st.line, d + " takes one argument");
            uint64_t n = val(args[0]);
            if (n > (uint64_t(1) << 30))
                fail(st.line, d + " size too large");
            if (sec_ == 2)
                offset_[2] += n;
            else
                for (uint64_t i = 0; i < n; ++i) {
                    uint8_t z = 0;
                    emit(&z, 1, st.line);
                }
        } else if (d == ".equ" || d == ".set") {
            if (args.size() != 2)
                fail(st.line, d + " takes a name and a value");
            symbols_[args[0]] = Symbol{true, 0, val(args[1])};
        } else {
            fail(st.line, "unknown directive " + d);
        }
    }

    std::string file_;
    AsmOptions opt_;
    std::map<std::string, Symbol> symbols_;
    bool final_ = false;
    bool firstPass_ = true;
    int sec_ = 0;
    uint64_t offset_[3] = {};
    uint64_t base_[3] = {};
    std::vector<uint8_t> bytes_[3];
    uint64_t textSize_ = 0;
};

} // namespace

AsmImage assemble(const std::string& source, const std::string& fileName,
                  const AsmOptions& options) {
    auto stmts = parse(source, fileName);
    return Assembly(fileName, options).run(stmts);
}

} // namespace e2kvm::emu

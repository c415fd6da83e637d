#include "emu/asm/BundleEncoder.h"

#include "emu/asm/AsmError.h"
#include "emu/asm/AsmText.h"
#include "emu/asm/PrefetchInstruction.h"
#include "emu/cpu/DecodedBundle.h"
#include "emu/cpu/OpTable.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>

namespace e2kvm::emu {

namespace {

std::string stripSpaces(const std::string& s) {
    std::string r;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c)))
            r += c;
    return r;
}

std::string lower(std::string s) {
    for (char& c : s)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Splits at top-level occurrences of `sep` (outside [] and quotes).
std::vector<std::string> splitTop(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    bool quote = false;
    for (char c : s) {
        if (c == '"')
            quote = !quote;
        if (!quote) {
            if (c == '[')
                ++depth;
            if (c == ']')
                --depth;
            if (c == sep && depth == 0) {
                out.push_back(trim(cur));
                cur.clear();
                continue;
            }
        }
        cur += c;
    }
    out.push_back(trim(cur));
    return out;
}

bool parseUnsigned(const std::string& s, uint64_t& v) {
    if (s.empty())
        return false;
    size_t pos = 0;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        pos = 2;
    }
    v = 0;
    for (; pos < s.size(); ++pos) {
        int d;
        char c = char(std::tolower(static_cast<unsigned char>(s[pos])));
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return false;
        if (v > (UINT64_MAX - uint64_t(d)) / uint64_t(base))
            throw AsmError("number too large: " + s);
        v = v * uint64_t(base) + uint64_t(d);
    }
    return true;
}

bool fitsS16(int64_t v) {
    return v >= INT16_MIN && v <= INT16_MAX;
}
bool fitsS32(int64_t v) {
    return v >= INT32_MIN && v <= INT32_MAX;
}

// "%r5" -> 0x85, "%db[3]" -> 0x03, "%g2" -> 0xE2
std::optional<uint8_t> parseReg(const std::string& raw) {
    std::string s = lower(stripSpaces(raw));
    if (s.size() < 2 || s[0] != '%')
        return std::nullopt;
    std::string t = s.substr(1);
    auto num = [](const std::string& n, uint64_t limit) -> std::optional<uint64_t> {
        uint64_t v;
        if (!parseUnsigned(n, v) || v >= limit)
            return std::nullopt;
        return v;
    };
    for (const char* p : {"dr", "r"}) {
        std::string pre = p;
        if (t.rfind(pre, 0) == 0)
            if (auto v = num(t.substr(pre.size()), 64))
                return uint8_t(0x80 + *v);
    }
    for (const char* p : {"dg", "g"}) {
        std::string pre = p;
        if (t.rfind(pre, 0) == 0)
            if (auto v = num(t.substr(pre.size()), 32))
                return uint8_t(0xE0 + *v);
    }
    for (const char* p : {"db[", "b["}) {
        std::string pre = p;
        if (t.rfind(pre, 0) == 0 && t.back() == ']')
            if (auto v = num(t.substr(pre.size(), t.size() - pre.size() - 1), 128))
                return uint8_t(*v);
    }
    return std::nullopt;
}

std::optional<unsigned> parseIndexed(const std::string& raw, const char* prefix, unsigned limit) {
    std::string s = lower(stripSpaces(raw));
    std::string pre = prefix;
    if (s.rfind(pre, 0) != 0)
        return std::nullopt;
    uint64_t v;
    if (!parseUnsigned(s.substr(pre.size()), v) || v >= limit)
        return std::nullopt;
    return unsigned(v);
}

// key=value lists ("wsz=8, nfx=1")
std::map<std::string, uint64_t> parseKeyValues(const std::vector<std::string>& parts) {
    std::map<std::string, uint64_t> kv;
    for (const std::string& p : parts) {
        if (p.empty())
            continue;
        size_t eq = p.find('=');
        if (eq == std::string::npos)
            throw AsmError("expected key=value, got '" + p + "'");
        uint64_t v;
        if (!parseUnsigned(trim(p.substr(eq + 1)), v))
            throw AsmError("bad number in '" + p + "'");
        kv[lower(trim(p.substr(0, eq)))] = v;
    }
    return kv;
}

struct CondEntry {
    unsigned cluster; // 0: ALC0-2, 1: ALC3-5
    bool mrgc;
    uint8_t psrc;
    uint8_t mask = 0, neg = 0;
};

struct LitRequest {
    unsigned channel;
    unsigned width; // 16, 32, 64
    uint64_t value;
    bool fixup = false; // relocatable: a word (pair) of its own, reported to the caller
    ExprValue reloc;
    // Written with a format ("_f32s 5"): only slots of `width`; with a place as well
    // ("_f16s,_lts1hi 5"): only the half-syllable `place` (see Slot::pos).
    bool exactWidth = false;
    int place = -1;
};

class Encoder {
public:
    explicit Encoder(const BundleContext& ctx) : ctx_(ctx), final_(ctx.finalPass) {}

    void add(const std::string& text) {
        std::string op = trim(text);
        if (op.empty())
            return;
        std::string cond;
        auto q = findTop(op, '?');
        if (q != std::string::npos) {
            cond = trim(op.substr(q + 1));
            op = trim(op.substr(0, q));
        }
        size_t sp = op.find_first_of(" \t");
        std::string head = lower(op.substr(0, sp));
        std::string rest = sp == std::string::npos ? "" : trim(op.substr(sp));
        std::vector<std::string> hp = splitTop(head, ',');
        std::string name = hp[0];
        if (name == "setwd")
            return setwd(rest);
        if (name == "setbn")
            return setbn(rest);
        if (name == "setbp")
            return setbp(rest);
        if (name == "disp" || name == "sdisp" || name == "ldisp")
            return disp(name, rest);
        if (name == "bap" || name == "eap") {
            ssUsed_ = true;
            stubs_ |= 1u << (name == "bap" ? 28 : 29);
            return;
        }
        if (name == "movab" || name == "movah" || name == "movaw" || name == "movad")
            return mova(hp, rest);
        if (name == "incr")
            return incr(hp, rest);
        if (name.rfind("aaurw", 0) == 0 || name.rfind("aaurr", 0) == 0)
            return aaur(hp, rest);
        if (name == "return")
            return ret(rest);
        if (name == "ct")
            return ct(rest, cond, false);
        if (name == "call")
            return ct(rest, cond, true);
        if (name == "ibranch")
            return ibranch(rest, cond);
        if (name == "rbranch") { // MCST as: the DAM recovery branch, ibranch ? %MLOCK
            if (!cond.empty())
                throw AsmError("rbranch takes no condition");
            return ibranch(rest, "%MLOCK");
        }
        if (name == "done")
            return done(cond);
        if (name == "nop")
            return nop(rest);
        if (name == "wait")
            return wait(rest);
        if (name == "setei")
            return setei(rest);
        if (name == "flushr" || name == "flushc")
            return flush(name);
        if (name == "abn" || name == "abp" || name == "alc")
            return stub(name, rest);
        if (name == "loop_mode") {
            b_.loopMode = true;
            return;
        }
        if (name == "ipd")
            return ipd(rest);
        if (name == "setmas")
            return setmas(rest);
        if (name == "pass")
            return pass(rest);
        if (name == "andp" || name == "landp" || name == "movep")
            return clp(name, rest);
        if (name == ".als")
            return rawAls(hp, rest);
        return alu(hp, rest, cond);
    }

    RawBundle finish() {
        // CS1
        if (cs1Kind_ == Cs1::Setr) {
            b_.hasCs1 = true;
            b_.cs1 = (dblSetr1_ ? 0x10000000u : 0u) | setbrBits_;
        } else if (cs1Kind_ == Cs1::Setbr) {
            b_.hasCs1 = true;
            b_.cs1 = 0x40000000u | setbrBits_;
        } else if (cs1Kind_ != Cs1::None) {
            b_.hasCs1 = true;
            b_.cs1 = cs1Value_;
        }
        if (ssUsed_) {
            b_.hasSs = true;
            b_.ss = ctcond_ | uint32_t(ctop_) << 10 | stubs_ | uint32_t(ipd_) << 30;
        }
        // MCST's as gives an operation written outside braces the delay of its result:
        // integer comparisons 2 cycles, floating-point ones 4, state register writes 5.
        if (ctx_.standalone && standaloneDelay_ && !explicitNop_)
            b_.nop = standaloneDelay_;
        for (unsigned ch = 0; ch < 6; ++ch) {
            if (!incr_[ch])
                continue;
            const OpInfo* o =
                (b_.alsMask & (1u << ch)) ? findOp(b_.als[ch], true, b_.ales[ch], ch) : nullptr;
            if (!o || o->form != OpForm::Staa)
                throw AsmError("incr," + std::to_string(ch) + " needs a staa in that channel");
            b_.als[ch] |= 1u << 10 | uint32_t(incr_[ch] - 1) << 12;
        }
        allocateLiterals();
        packConditions();
        packPls();
        return b_;
    }

private:
    enum class Cs1 { None, Setr, Setbr, Wait, Call, Mas, Flush, Setei };

    static size_t findTop(const std::string& s, char c) {
        int depth = 0;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '[')
                ++depth;
            else if (s[i] == ']')
                --depth;
            else if (s[i] == c && depth == 0)
                return i;
        }
        return std::string::npos;
    }

    void useCs1(Cs1 kind) {
        if (cs1Kind_ == Cs1::None || cs1Kind_ == kind) {
            cs1Kind_ = kind;
            return;
        }
        if ((kind == Cs1::Setbr && cs1Kind_ == Cs1::Setr))
            return;
        if (kind == Cs1::Setr && cs1Kind_ == Cs1::Setbr) {
            cs1Kind_ = Cs1::Setr;
            return;
        }
        throw AsmError("CS1 can hold only one of setwd/setbn, call, wait, mas, flushr, setei");
    }

    void useCs0(uint32_t v) {
        if (b_.hasCs0)
            throw AsmError("CS0 already used by another disp/return/ibranch/done in this bundle");
        b_.hasCs0 = true;
        b_.cs0 = v;
    }

    ExprValue exprValue(const std::string& e) { return evaluate(e, ctx_.dot, ctx_.lookup, final_); }

    int64_t expr(const std::string& e) {
        ExprValue v = exprValue(e);
        if (v.relocatable())
            throw AsmError("'" + e + "' must be an absolute value here");
        return v.value;
    }

    uint32_t relDisp(const std::string& target) {
        std::string t = stripSpaces(target);
        ExprValue dest;
        if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
            dest = ctx_.dot;
            dest.value += expr(t);
        } else {
            dest = exprValue(t);
        }
        if (dest.relocatable() && (dest.section != ctx_.dot.section || dest.external)) {
            if (ctx_.fixups)
                ctx_.fixups->push_back({BundleFixup::Disp, 0, dest});
            return 0;
        }
        int64_t diff = dest.value - ctx_.dot.value;
        if (final_ && (diff & 7))
            throw AsmError("branch target " + target + " is not 8-aligned");
        diff /= 8;
        if (final_ && (diff < -(int64_t(1) << 27) || diff >= (int64_t(1) << 27)))
            throw AsmError("branch target " + target + " out of range");
        return uint32_t(diff) & 0x0FFFFFFF;
    }

    unsigned ctprArg(const std::string& s) {
        auto n = parseIndexed(s, "%ctpr", 4);
        if (!n || *n == 0)
            throw AsmError("expected %ctpr1..3, got '" + s + "'");
        return *n;
    }

    void setwd(const std::string& rest) {
        auto kv = parseKeyValues(splitTop(rest, ','));
        uint64_t wsz = kv.count("wsz") ? kv["wsz"] : 0;
        if (wsz > 112)
            throw AsmError("setwd: wsz must be at most 112");
        uint32_t w = uint32_t(wsz) << 5;
        if (kv.count("nfx") && kv["nfx"])
            w |= 1u << 4;
        if (kv.count("dbl") && kv["dbl"])
            w |= 1u << 3;
        for (auto& [k, v] : kv)
            if (k != "wsz" && k != "nfx" && k != "dbl")
                throw AsmError("setwd: unknown field " + k);
        useCs1(Cs1::Setr);
        setwdWord_ = w;
        hasSetwd_ = true;
    }

    void setbn(const std::string& rest) {
        auto kv = parseKeyValues(splitTop(rest, ','));
        uint64_t rsz = kv["rsz"], rbs = kv["rbs"], rcur = kv["rcur"];
        if (rsz > 63 || rbs > 63 || rcur > 63)
            throw AsmError("setbn: fields must be at most 63");
        useCs1(Cs1::Setbr);
        setbrBits_ |= 1u << 26 | uint32_t(rbs) | uint32_t(rsz) << 6 | uint32_t(rcur) << 12;
    }

    void setbp(const std::string& rest) {
        auto kv = parseKeyValues(splitTop(rest, ','));
        uint64_t psz = kv["psz"];
        if (psz > 31)
            throw AsmError("setbp: psz must be at most 31");
        useCs1(Cs1::Setbr);
        setbrBits_ |= 1u << 27 | uint32_t(psz) << 18;
    }

    void disp(const std::string& name, const std::string& rest) {
        auto parts = splitTop(rest, ',');
        if (parts.size() != 2)
            throw AsmError(name + " needs %ctprN and a target");
        unsigned n = ctprArg(parts[0]);
        if (name == "disp") {
            useCs0(uint32_t(n) << 30 | relDisp(parts[1]));
        } else if (name == "ldisp") {
            if (n != 2)
                throw AsmError("ldisp needs %ctpr2");
            useCs0(uint32_t(n) << 30 | 1u << 28 | relDisp(parts[1]));
        } else {
            int64_t v = expr(parts[1]);
            if (v < 0 || v > 0x0FFFFFFF)
                throw AsmError("sdisp entry out of range");
            useCs0(uint32_t(n) << 30 | 2u << 28 | uint32_t(v));
        }
    }

    void ret(const std::string& rest) {
        if (ctprArg(rest) != 3)
            throw AsmError("return needs %ctpr3");
        useCs0(0xF0000000u);
    }

    uint16_t ctCond(const std::string& c) {
        std::string s = lower(stripSpaces(c));
        if (s.empty())
            return 0x20;
        if (s.rfind("#ctcond=", 0) == 0) {
            uint64_t v;
            if (!parseUnsigned(s.substr(8), v) || v > 0x1FF)
                throw AsmError("bad raw condition " + c);
            return uint16_t(v);
        }
        if (s == "#loop_end")
            return 0x80;
        if (s == "#not_loop_end")
            return 0xA0;
        if (s == "%mlock")
            return 0x100;
        struct Form {
            const char* suffix;
            bool neg;
            uint16_t type;
        };
        const Form forms[] = {
            {"||#loop_end", false, 6},
            {"&&#not_loop_end", true, 7},
            {"||#loop_end", true, 14},
            {"&&#not_loop_end", false, 15},
            {"", false, 2},
            {"", true, 3},
        };
        for (const Form& f : forms) {
            std::string suf = f.suffix;
            if (s.size() < suf.size() || s.compare(s.size() - suf.size(), suf.size(), suf) != 0)
                continue;
            std::string p = s.substr(0, s.size() - suf.size());
            bool neg = !p.empty() && p[0] == '~';
            if (neg != f.neg)
                continue;
            if (neg)
                p = p.substr(1);
            if (auto n = parseIndexed(p, "%pred", 32))
                return uint16_t(f.type << 5 | *n);
        }
        throw AsmError("unknown condition '" + c + "'");
    }

    void useSs() { ssUsed_ = true; }

    void ct(const std::string& rest, const std::string& cond, bool call) {
        auto parts = splitTop(rest, ',');
        unsigned n = ctprArg(parts[0]);
        if (ctop_)
            throw AsmError("only one ct/call per bundle");
        useSs();
        ctop_ = uint8_t(n);
        ctcond_ = ctCond(cond);
        if (call) {
            if (parts.size() != 2)
                throw AsmError("call needs wbs=N");
            auto kv = parseKeyValues({parts[1]});
            if (!kv.count("wbs") || kv["wbs"] > 0x7F)
                throw AsmError("call: wbs must be 0..127");
            useCs1(Cs1::Call);
            cs1Value_ = 0x50000000u | uint32_t(kv["wbs"]);
        } else if (parts.size() != 1) {
            throw AsmError("ct takes one operand");
        }
    }

    void ibranch(const std::string& rest, const std::string& cond) {
        useSs();
        ctcond_ = ctCond(cond);
        useCs0(relDisp(rest));
    }

    void done(const std::string& cond) {
        useSs();
        ctcond_ = ctCond(cond);
        useCs0(0x30000000u);
    }

    void nop(const std::string& rest) {
        uint64_t v = rest.empty() ? 0 : uint64_t(expr(rest)); // MCST: "nop" alone is nop 0
        if (v > 7)
            throw AsmError("nop count must be 0..7");
        b_.nop = unsigned(v);
        explicitNop_ = true;
    }

    void ipd(const std::string& rest) {
        uint64_t v = uint64_t(expr(rest));
        if (v > 3)
            throw AsmError("ipd must be 0..3");
        useSs();
        ipd_ = uint8_t(v);
    }

    void wait(const std::string& rest) {
        static const char* names[] = {"all_c", "all_e", "st_c", "ld_c", "fl_c",
                                      "ma_c",  "trap",  "sas",  "sal"};
        auto kv = parseKeyValues(splitTop(rest, ','));
        uint32_t v = 0;
        for (auto& [k, val] : kv) {
            const std::string& key = k;
            auto it = std::find_if(std::begin(names), std::end(names),
                                   [&](const char* n) { return key == n; });
            if (it == std::end(names))
                throw AsmError("wait: unknown field " + k);
            if (val)
                v |= 1u << (it - std::begin(names));
        }
        useCs1(Cs1::Wait);
        cs1Value_ = 0x30000000u | v;
    }

    void setei(const std::string& rest) {
        int64_t v = expr(rest);
        if (v < 0 || v > 255)
            throw AsmError("setei value must be 0..255");
        useCs1(Cs1::Setei);
        cs1Value_ = 0x20000000u | uint32_t(v);
    }

    void flush(const std::string& name) {
        if (cs1Kind_ != Cs1::Flush)
            cs1Value_ = 0x70000000u;
        useCs1(Cs1::Flush);
        cs1Value_ |= name == "flushr" ? 1u : 2u;
    }

    void setmas(const std::string& rest) {
        int64_t v = expr(rest);
        if (cs1Kind_ != Cs1::Mas)
            cs1Value_ = 0x60000000u;
        useCs1(Cs1::Mas);
        cs1Value_ |= uint32_t(v) & 0x0FFFFFFF;
    }

    void stub(const std::string& name, const std::string& rest) {
        auto kv = parseKeyValues(splitTop(rest, ','));
        int tBit = name == "abn" ? 21 : name == "abp" ? 18 : 16;
        int fBit = name == "abn" ? 22 : name == "abp" ? 19 : 17;
        for (auto& [k, v] : kv) {
            if (k == name + "t") {
                if (v)
                    stubs_ |= 1u << tBit;
            } else if (k == name + "f") {
                if (v)
                    stubs_ |= 1u << fBit;
            } else {
                throw AsmError(name + ": unknown field " + k);
            }
        }
        useSs();
    }

    // PLS ------------------------------------------------------------------------------
    struct LocalPred {
        unsigned index;
        bool neg;
    };
    LocalPred localPred(const std::string& s) {
        std::string t = lower(stripSpaces(s));
        bool neg = !t.empty() && t[0] == '~';
        if (neg)
            t = t.substr(1);
        auto n = parseIndexed(t, "@p", 7);
        if (!n)
            throw AsmError("expected a local predicate @p0..@p6, got '" + s + "'");
        return {*n, neg};
    }

    void needPls(unsigned count) { plsCount_ = std::max(plsCount_, count); }

    void pass(const std::string& rest) {
        auto parts = splitTop(rest, ',');
        if (parts.size() != 2)
            throw AsmError("pass needs two operands");
        std::string a = lower(stripSpaces(parts[0])), d = lower(stripSpaces(parts[1]));
        if (d.rfind("@p", 0) == 0) { // pass %predN, @pK  (ELP)
            LocalPred lp = localPred(d);
            if (lp.index > 3 || lp.neg)
                throw AsmError("pass into @p0..@p3 only");
            uint8_t psrc;
            if (a == "%lcntex")
                psrc = 0;
            else if (auto n = parseIndexed(a, "%pred", 32))
                psrc = uint8_t(0x60 + *n);
            else
                throw AsmError("pass: unsupported source '" + parts[0] + "'");
            elp_[lp.index] = psrc;
            needPls(lp.index / 2 + 1);
            return;
        }
        LocalPred lp = localPred(a); // pass @pK, %predN  (CLP result out)
        auto n = parseIndexed(d, "%pred", 32);
        if (lp.index < 4 || lp.neg || !n)
            throw AsmError("pass @p4..@p6, %predN expected");
        unsigned i = lp.index - 4;
        clp_[i] |= 1u << 5 | *n;
        needPls(i + 1);
    }

    void clp(const std::string& name, const std::string& rest) {
        auto parts = splitTop(rest, ',');
        if (parts.size() != 3)
            throw AsmError(name + " needs two sources and a local destination");
        LocalPred p0 = localPred(parts[0]), p1 = localPred(parts[1]), d = localPred(parts[2]);
        if (d.index < 4 || d.neg)
            throw AsmError(name + ": destination must be @p4..@p6");
        unsigned i = d.index - 4;
        uint32_t opc = name == "andp" ? 0 : name == "landp" ? 1 : 3;
        clp_[i] |= opc << 14 | uint32_t(p0.neg) << 13 | p0.index << 10 | uint32_t(p1.neg) << 9 |
                   p1.index << 6;
        needPls(i + 1);
    }

    void packPls() {
        b_.plsCount = plsCount_;
        for (unsigned i = 0; i < plsCount_; ++i) {
            uint32_t w = clp_[i];
            if (i < 2)
                w |= uint32_t(elp_[2 * i]) << 24 | uint32_t(elp_[2 * i + 1]) << 16;
            b_.pls[i] = w;
        }
    }

    // Array access unit -------------------------------------------------------------------
    // "movab,N area=A, ind=I, am=M, be=E, %dst" (MOVA channel N, AAS half-syllables).
    void mova(const std::vector<std::string>& hp, const std::string& rest) {
        const std::string& name = hp[0];
        uint64_t ch;
        if (hp.size() != 2 || !parseUnsigned(hp[1], ch) || ch > 3)
            throw AsmError(name + " needs a MOVA channel 0..3 (" + name + ",N)");
        if (b_.aasMask & (1u << (2 + ch)))
            throw AsmError("MOVA channel " + std::to_string(ch) + " used twice");
        auto parts = splitTop(rest, ',');
        if (parts.size() != 5)
            throw AsmError(name + " takes area=, ind=, am=, be= and a destination");
        auto kv = parseKeyValues({parts.begin(), parts.begin() + 4});
        for (const auto& [k, v] : kv)
            if ((k != "area" && k != "ind" && k != "am" && k != "be") ||
                v > (k == "area" || k == "ind" ? 31u : 1u))
                throw AsmError(name + ": bad field " + k + "=" + std::to_string(v));
        const unsigned opc = name == "movab" ? 1 : name == "movah" ? 2 : name == "movaw" ? 3 : 4;
        const uint8_t d = dstByte(parts[4]);
        if (d >= 0xC0 && d < 0xDF)
            throw AsmError(name + ": the destination must be a register or %empty");
        ssUsed_ = true;
        stubs_ |= 1u << (12 + ch);
        b_.aasMask |= uint8_t(1u << (ch / 2) | 1u << (2 + ch));
        b_.aas[2 + ch] =
            uint16_t(kv["be"] << 15 | opc << 12 | kv["area"] << 6 | kv["ind"] << 1 | kv["am"]);
        b_.aas[ch / 2] |= uint16_t(d << ((ch & 1) ? 0 : 8));
    }

    // "incr,N %aaincrK": the staa in ALC N adds %aaincrK (scaled) to its %aasti.
    void incr(const std::vector<std::string>& hp, const std::string& rest) {
        uint64_t ch;
        if (hp.size() != 2 || !parseUnsigned(hp[1], ch) || (ch != 2 && ch != 5))
            throw AsmError("incr needs channel 2 or 5");
        auto k = parseIndexed(rest, "%aaincr", 8);
        if (!k)
            throw AsmError("incr takes %aaincrN");
        incr_[ch] = uint8_t(*k + 1);
    }

    // An AAU register operand: %aadN, %aastiN, %aaindN or %aaincrN -> aaopc and index.
    static bool aauReg(const std::string& s, unsigned& aaopc, unsigned& index) {
        if (auto n = parseIndexed(s, "%aasti", 16)) {
            aaopc = 1;
            index = *n;
        } else if (auto n2 = parseIndexed(s, "%aaind", 16)) {
            aaopc = 2;
            index = *n2;
        } else if (auto n3 = parseIndexed(s, "%aaincr", 8)) {
            aaopc = 3;
            index = *n3;
        } else if (auto n4 = parseIndexed(s, "%aad", 32)) {
            aaopc = 0;
            index = *n4;
        } else {
            return false;
        }
        return true;
    }

    // ALS 23:8 of staa/ldaa from "%aadD [ %aastiI ]".
    uint32_t aauAddress(const std::string& name, const std::string& s) {
        const size_t open = s.find('['), close = s.rfind(']');
        auto d = parseIndexed(s.substr(0, open), "%aad", 32);
        if (open == std::string::npos || close == std::string::npos || close < open || !d)
            throw AsmError(name + ": expected %aadN [ %aastiM ]");
        auto i = parseIndexed(s.substr(open + 1, close - open - 1), "%aasti", 16);
        if (!i)
            throw AsmError(name + ": expected %aastiM inside [ ] (literals are not supported)");
        return *d << 11 | *i << 7;
    }

    // aaurw* (a staa with MAS 0x3f) "aaurwd,N value, %aaregK"; aaurr* (ldaa with MAS 0x3f)
    // "aaurrd,N %aaregK, dst".
    void aaur(const std::vector<std::string>& hp, const std::string& rest) {
        const std::string& name = hp[0];
        const bool write = name[4] == 'w';
        const std::string kind = name.substr(5);
        const char* base =
            write ? (kind == "d" ? "staad" : "staaw") : (kind == "d" ? "ldaad" : "ldaaw");
        if (kind != "" && kind != "s" && kind != "d")
            throw AsmError("unknown operation '" + name + "'");
        auto ops = splitTop(rest, ',');
        if (ops.size() != 2)
            throw AsmError(name + " takes 2 operands");
        unsigned aaopc = 0, index = 0;
        if (!aauReg(write ? ops[1] : ops[0], aaopc, index))
            throw AsmError(name + ": expected %aadN, %aastiN, %aaindN or %aaincrN");
        const uint32_t fields = aaopc << 2 | (aaopc == 0 ? index << 11 : index << 7);
        std::vector<std::string> hp2 = hp;
        hp2[0] = base;
        aauOp(hp2, fields, write ? src3Byte(ops[0]) : dstByte(ops[1]), 0x3F);
    }

    void aauOp(const std::vector<std::string>& hp, uint32_t fields, uint8_t d, uint64_t mas) {
        const OpInfo* info = findOpByName(hp[0]);
        unsigned ch = channelOf(hp, hp[0]);
        if (hp.size() > 2)
            throw AsmError(hp[0] + ": unknown flag '" + hp[2] + "'");
        if (!(info->channels & (1u << ch)))
            throw AsmError(hp[0] + " cannot run in channel " + std::to_string(ch));
        b_.alsMask |= uint8_t(1u << ch);
        b_.als[ch] = uint32_t(info->opc) << 24 | fields << 8 | d;
        b_.alesMask |= uint8_t(1u << ch);
        b_.ales[ch] = uint16_t(info->table << 8 | 0xC0);
        if (mas) {
            static const int shift[6] = {21, -1, 14, 7, -1, 0};
            if (cs1Kind_ != Cs1::Mas)
                cs1Value_ = 0x60000000u;
            useCs1(Cs1::Mas);
            cs1Value_ |= uint32_t(mas) << shift[ch];
        }
    }

    // ALU ------------------------------------------------------------------------------
    unsigned channelOf(const std::vector<std::string>& hp, const std::string& name) {
        if (hp.size() < 2)
            throw AsmError(name + " needs a channel (" + name + ",N)");
        uint64_t ch;
        if (!parseUnsigned(hp[1], ch) || ch > 5)
            throw AsmError(name + ": channel must be 0..5");
        if (b_.alsMask & (1u << ch))
            throw AsmError("channel " + std::to_string(ch) + " used twice");
        return unsigned(ch);
    }

    void rawAls(const std::vector<std::string>& hp, const std::string& rest) {
        unsigned ch = channelOf(hp, ".als");
        auto parts = splitTop(rest, ',');
        b_.alsMask |= uint8_t(1u << ch);
        b_.als[ch] = uint32_t(expr(parts[0]));
        if (parts.size() > 1) {
            auto kv = parseKeyValues({parts[1]});
            b_.alesMask |= uint8_t(1u << ch);
            b_.ales[ch] = uint16_t(kv["ales"]);
        }
    }

    uint8_t src1Byte(const std::string& s) {
        if (auto r = parseReg(s))
            return *r;
        int64_t v = expr(s);
        if (v < 0 || v > 31)
            throw AsmError("src1 immediate " + s + " must be 0..31 (use src2 for literals)");
        return uint8_t(0xC0 | v);
    }

    uint8_t src2Byte(const std::string& text, unsigned ch, bool wide) {
        // MCST's as reads "[ x ]" as src2 as x ("ldd,0 0, [ buffer + 8 ], %r1").
        std::string s = trim(text);
        if (s.size() >= 2 && s.front() == '[' && s.back() == ']')
            s = trim(s.substr(1, s.size() - 2));
        if (auto r = parseReg(s))
            return *r;
        if (auto lit = explicitLiteral(s, ch)) {
            lits_.push_back(*lit);
            return 0; // patched by allocateLiterals
        }
        ExprValue ev = exprValue(s);
        int64_t v = ev.value;
        if (ev.relocatable()) { // MCST's as gives a symbol a 64-bit literal
            lits_.push_back({ch, 64, uint64_t(v), true, ev});
            return 0;
        }
        // In an image, a literal from a symbol takes at least 32 bits whatever its value, so
        // that sizes settle while the layout changes.
        bool symbolic = ev.symbolic && !ctx_.objectMode;
        if (!symbolic && v >= 0 && v <= 15)
            return uint8_t(0xC0 | v);
        unsigned width;
        if (!wide) {
            // The smallest literal for the value as written: -1 takes 16 bits, 0xffffffff 32.
            if (v < INT32_MIN || v > int64_t(UINT32_MAX))
                throw AsmError("literal " + s + " does not fit 32 bits");
            width = fitsS16(v) && !symbolic ? 16 : 32;
        } else {
            width = fitsS16(v) && !symbolic ? 16 : fitsS32(v) ? 32 : 64;
        }
        lits_.push_back({ch, width, uint64_t(v)});
        return 0; // patched by allocateLiterals
    }

    // MCST's literal with its format and optionally its place: "_f16s[,_ltsNlo|hi] v"
    // (N 0..1), "_f32s[,_ltsN] v" (N 0..3), "_f64[,_ltsN] v" (N 0..2, with N+1).
    std::optional<LitRequest> explicitLiteral(const std::string& text, unsigned ch) {
        std::string t = lower(text);
        unsigned width = 0;
        size_t at = 0;
        for (auto [prefix, w] :
             {std::pair<const char*, unsigned>{"_f16s", 16}, {"_f32s", 32}, {"_f64", 64}}) {
            size_t n = std::string(prefix).size();
            if (t.compare(0, n, prefix) == 0 && t.size() > n &&
                (t[n] == ',' || std::isspace(static_cast<unsigned char>(t[n])))) {
                width = w;
                at = n;
            }
        }
        if (!width)
            return std::nullopt;
        LitRequest r{ch, width, 0};
        r.exactWidth = true;
        std::string rest = trim(text.substr(at));
        if (!rest.empty() && rest[0] == ',') {
            rest = trim(rest.substr(1));
            size_t sp = rest.find_first_of(" \t");
            std::string place = lower(rest.substr(0, sp));
            rest = sp == std::string::npos ? "" : trim(rest.substr(sp));
            std::string index = place.rfind("_lts", 0) == 0 ? place.substr(4) : "";
            int half = -1; // 16-bit literals name a half: lo 0, hi 1
            if (width == 16 && index.size() > 2) {
                std::string h = index.substr(index.size() - 2);
                half = h == "lo" ? 0 : h == "hi" ? 1 : -1;
                index = index.substr(0, index.size() - 2);
            }
            const unsigned words = width == 16 ? 2 : width == 32 ? 4 : 3;
            uint64_t n;
            if (!parseUnsigned(index, n) || n >= words || (width == 16 && half < 0))
                throw AsmError("bad literal place '" + place + "' for a " + std::to_string(width) +
                               "-bit literal (" +
                               (width == 16   ? "_lts0lo.._lts1hi"
                                : width == 32 ? "_lts0.._lts3"
                                              : "_lts0.._lts2") +
                               ")");
            r.place = int(2 * n) + std::max(half, 0);
        }
        if (rest.empty())
            throw AsmError("literal format without a value: '" + text + "'");
        ExprValue ev = exprValue(rest);
        if (ev.relocatable()) {
            if (width == 16)
                throw AsmError("a 16-bit literal cannot hold a symbol: '" + text + "'");
            r.fixup = true;
            r.reloc = ev;
        }
        const int64_t v = ev.value;
        const bool fits = width == 64 ||
                          (width == 32 && v >= INT32_MIN && v <= int64_t(UINT32_MAX)) ||
                          (width == 16 && v >= INT16_MIN && v <= int64_t(UINT16_MAX));
        if (final_ && !r.fixup && !fits)
            throw AsmError("literal " + rest + " does not fit " + std::to_string(width) + " bits");
        r.value = uint64_t(v);
        return r;
    }

    uint8_t src3Byte(const std::string& s) {
        auto r = parseReg(s);
        if (!r)
            throw AsmError("expected a register, got '" + s + "'");
        return *r;
    }

    uint8_t dstByte(const std::string& s) {
        if (auto r = parseReg(s))
            return *r;
        std::string t = lower(stripSpaces(s));
        if (auto n = parseIndexed(t, "%ctpr", 4); n && *n > 0)
            return uint8_t(0xD0 + *n);
        if (t == "%empty" || t == "%empty.hi")
            return 0xDF;
        if (t == "%empty.lo")
            return 0xDE;
        throw AsmError("bad destination '" + s + "'");
    }

    static std::optional<uint8_t> stateReg(const std::string& s) {
        std::string t = lower(stripSpaces(s));
        if (t.empty() || t[0] != '%')
            return std::nullopt;
        t = t.substr(1);
        for (const StateRegName& r : stateRegNames())
            if (t == r.name)
                return r.number;
        if (t == "usbr")
            return 0x1e;
        uint64_t v;
        if (t.rfind("sr", 0) == 0 && parseUnsigned(t.substr(2), v) && v < 256)
            return uint8_t(v);
        return std::nullopt;
    }

    PredCond predTerm(const std::string& raw) {
        std::string t = lower(stripSpaces(raw));
        PredCond c;
        c.neg = !t.empty() && t[0] == '~';
        if (c.neg)
            t = t.substr(1);
        if (auto n = parseIndexed(t, "%pred", 32)) {
            c.kind = PredCond::Pred;
            c.index = uint8_t(*n);
        } else if (auto m = parseIndexed(t, "%pcnt", 32)) {
            c.kind = PredCond::Pcnt;
            c.index = uint8_t(*m);
        } else {
            throw AsmError("expected %predN or %pcntN, got '" + raw + "'");
        }
        return c;
    }

    void addCond(unsigned ch, const PredCond& c, bool mrgc) {
        uint8_t psrc = uint8_t((c.kind == PredCond::Pred ? 0x60 : 0x40) + c.index);
        unsigned cluster = ch / 3, bit = ch % 3;
        for (CondEntry& e : conds_) {
            if (e.cluster == cluster && e.mrgc == mrgc && e.psrc == psrc &&
                !(e.mask & (1u << bit))) {
                e.mask |= uint8_t(1u << bit);
                e.neg |= uint8_t(c.neg << bit);
                return;
            }
        }
        CondEntry e{cluster, mrgc, psrc};
        e.mask = uint8_t(1u << bit);
        e.neg = uint8_t(c.neg << bit);
        conds_.push_back(e);
    }

    // "[ src1 + src2 ]" with a register on either side, or "[ expr ]" (src1 0, src2 the
    // expression) or "[ %reg ]" (src2 0).
    static void bracketAddress(const std::string& name, const std::string& text, std::string& addr1,
                               std::string& addr2) {
        std::string a = trim(text);
        if (a.size() < 2 || a.front() != '[' || a.back() != ']')
            throw AsmError(name + ": expected [ src1 + src2 ]");
        a = trim(a.substr(1, a.size() - 2));
        size_t plus = a.find('+');
        if (plus != std::string::npos) {
            std::string l = trim(a.substr(0, plus)), r = trim(a.substr(plus + 1));
            // "[ 0 + _f64 0x11380 ]": src2 a literal with its format.
            const std::string lr = lower(r);
            const bool formatted =
                lr.rfind("_f16s", 0) == 0 || lr.rfind("_f32s", 0) == 0 || lr.rfind("_f64", 0) == 0;
            if (parseReg(l) || parseReg(r) || formatted) {
                addr1 = l;
                addr2 = r;
                return;
            }
        }
        if (parseReg(a)) {
            addr1 = a;
            addr2 = "0";
        } else {
            addr1 = "0";
            addr2 = a;
        }
    }

    void alu(const std::vector<std::string>& hp, std::string rest, const std::string& cond) {
        const std::string& name = hp[0];
        const OpInfo* info = findOpByName(name);
        if (!info)
            throw AsmError("unknown operation '" + name + "'");
        // Without a channel ("ands %r0, %r1, %r2") MCST's as takes the first free one.
        bool explicitChannel =
            hp.size() >= 2 && !hp[1].empty() && std::isdigit(static_cast<unsigned char>(hp[1][0]));
        unsigned ch = 0;
        if (explicitChannel) {
            ch = channelOf(hp, name);
        } else {
            while (ch < 6 && (!(info->channels & (1u << ch)) || (b_.alsMask & (1u << ch))))
                ++ch;
            if (ch == 6)
                throw AsmError("no free channel for " + name);
        }
        if (!(info->channels & (1u << ch)))
            throw AsmError(name + " cannot run in channel " + std::to_string(ch));
        bool sm = false;
        for (size_t i = explicitChannel ? 2 : 1; i < hp.size(); ++i) {
            if (hp[i] == "sm")
                sm = true;
            else
                throw AsmError(name + ": unknown flag '" + hp[i] + "'");
        }
        // Optional "mas=N" at the end (after a space or a comma).
        std::optional<uint64_t> mas;
        if (auto m = lower(rest).rfind("mas="); m != std::string::npos) {
            uint64_t v;
            if (!parseUnsigned(trim(rest.substr(m + 4)), v) || v > 0x7F)
                throw AsmError("mas must be 0..0x7f");
            mas = v;
            rest = trim(rest.substr(0, m));
            if (!rest.empty() && rest.back() == ',')
                rest = trim(rest.substr(0, rest.size() - 1));
        }
        auto ops = splitTop(rest, ',');
        if (ops.size() == 1 && ops[0].empty())
            ops.clear();
        // "_f16s,_lts0lo 0x7fff" is one operand (a literal's format and place).
        for (size_t i = 0; i + 1 < ops.size(); ++i) {
            std::string f = lower(ops[i]);
            if ((f == "_f16s" || f == "_f32s" || f == "_f64") &&
                lower(ops[i + 1]).rfind("_lts", 0) == 0) {
                ops[i] += "," + ops[i + 1];
                ops.erase(ops.begin() + std::ptrdiff_t(i) + 1);
            }
        }
        auto want = [&](size_t n) {
            if (ops.size() != n)
                throw AsmError(name + " takes " + std::to_string(n) + " operands");
        };
        uint8_t s1 = 0, s2 = 0, d = 0;
        bool hasAles = info->table != kTableShort;
        uint16_t ales = uint16_t(info->table << 8 | 0xC0);
        switch (info->form) {
        case OpForm::Load:
            if (ops.size() == 2) { // "[ address ], dst"
                std::string a1, a2;
                bracketAddress(name, ops[0], a1, a2);
                s1 = src1Byte(a1);
                s2 = src2Byte(a2, ch, true);
                d = dstByte(ops[1]);
                break;
            }
            [[fallthrough]];
        case OpForm::Alu:
            want(3);
            s1 = src1Byte(ops[0]);
            s2 = src2Byte(ops[1], ch, info->src2Wide);
            d = dstByte(ops[2]);
            break;
        case OpForm::Merge: {
            want(4);
            s1 = src1Byte(ops[0]);
            s2 = src2Byte(ops[1], ch, info->src2Wide);
            d = dstByte(ops[2]);
            addCond(ch, predTerm(ops[3]), true);
            break;
        }
        case OpForm::Cmp: {
            want(3);
            s1 = src1Byte(ops[0]);
            s2 = src2Byte(ops[1], ch, info->src2Wide);
            auto p = parseIndexed(ops[2], "%pred", 32);
            if (!p)
                throw AsmError(name + ": destination must be %predN");
            d = uint8_t(info->cmpop << 5 | *p);
            standaloneDelay_ = name[0] == 'f' ? 4 : 2;
            break;
        }
        case OpForm::Store: {
            // "value, [ src1 + src2 ]" or "value, src1, src2"
            std::string addr1, addr2;
            if (ops.size() == 2) {
                bracketAddress(name, ops[1], addr1, addr2);
            } else {
                want(3);
                addr1 = ops[1];
                addr2 = ops[2];
            }
            s1 = src1Byte(addr1);
            s2 = src2Byte(addr2, ch, true);
            d = src3Byte(ops[0]);
            break;
        }
        case OpForm::Unary:
        case OpForm::Getsp:
            want(2);
            s1 = info->opce;
            s2 = src2Byte(ops[0], ch, info->src2Wide);
            d = dstByte(ops[1]);
            break;
        case OpForm::Rr: {
            want(2);
            auto sr = stateReg(ops[0]);
            if (!sr)
                throw AsmError(name + ": unknown state register '" + ops[0] + "'");
            s1 = *sr;
            s2 = 0xC0;
            d = dstByte(ops[1]);
            break;
        }
        case OpForm::Rw: {
            want(2);
            standaloneDelay_ = 5;
            auto sr = stateReg(ops[1]);
            if (!sr)
                throw AsmError(name + ": unknown state register '" + ops[1] + "'");
            s1 = 0xC0;
            s2 = src2Byte(ops[0], ch, info->src2Wide);
            d = *sr;
            break;
        }
        case OpForm::Insf:
            want(4);
            s1 = src1Byte(ops[0]);
            s2 = src2Byte(ops[1], ch, info->src2Wide);
            ales = uint16_t(info->table << 8 | src3Byte(ops[2]));
            d = dstByte(ops[3]);
            break;
        case OpForm::Staa: { // "value, %aadD [ %aastiI ]"
            want(2);
            const uint32_t f = aauAddress(name, ops[1]);
            s1 = uint8_t(f >> 8);
            s2 = uint8_t(f);
            d = src3Byte(ops[0]);
            break;
        }
        case OpForm::Ldaa: { // "%aadD [ %aastiI ], dst"
            want(2);
            const uint32_t f = aauAddress(name, ops[0]);
            s1 = uint8_t(f >> 8);
            s2 = uint8_t(f);
            d = dstByte(ops[1]);
            break;
        }
        }
        if (info->form == OpForm::Staa || info->form == OpForm::Ldaa) {
            if (sm)
                throw AsmError(name + " cannot be speculative here");
            if (!cond.empty())
                throw AsmError(name + ": conditions are not supported");
        }
        if (mas) {
            if (info->form != OpForm::Load && info->form != OpForm::Store &&
                info->form != OpForm::Staa && info->form != OpForm::Ldaa)
                throw AsmError(name + ": mas= only applies to loads and stores");
            static const int shift[6] = {21, -1, 14, 7, -1, 0};
            if (shift[ch] < 0)
                throw AsmError("channel " + std::to_string(ch) + " has no MAS");
            if (cs1Kind_ != Cs1::Mas)
                cs1Value_ = 0x60000000u;
            useCs1(Cs1::Mas);
            cs1Value_ |= uint32_t(*mas) << shift[ch];
        }
        b_.alsMask |= uint8_t(1u << ch);
        b_.als[ch] = uint32_t(sm) << 31 | uint32_t(info->opc) << 24 | uint32_t(s1) << 16 |
                     uint32_t(s2) << 8 | d;
        if (hasAles) {
            b_.alesMask |= uint8_t(1u << ch);
            b_.ales[ch] = ales;
        }
        if (!cond.empty())
            for (const PredCond& c : aluConditions(cond))
                addCond(ch, c, false);
    }

    // "%pred0", "%pred0 && %pcnt1", or MCST's "%pred0, %pcnt1" (at most one of each kind,
    // in either order; the %pred condition goes first, as MCST's as places it).
    std::vector<PredCond> aluConditions(const std::string& cond) {
        std::vector<PredCond> out;
        auto listed = splitTop(cond, ',');
        if (listed.size() == 1) {
            for (const std::string& term : splitAnd(cond))
                out.push_back(predTerm(term));
            return out;
        }
        if (listed.size() > 2)
            throw AsmError("an operation takes at most a %predN and a %pcntN condition");
        for (const std::string& term : listed)
            out.push_back(predTerm(term));
        if (out[0].kind == out[1].kind)
            throw AsmError(std::string("two ") +
                           (out[0].kind == PredCond::Pred ? "%pred" : "%pcnt") +
                           " conditions on one operation");
        if (out[0].kind != PredCond::Pred)
            std::swap(out[0], out[1]);
        return out;
    }

    static std::vector<std::string> splitAnd(const std::string& s) {
        std::vector<std::string> out;
        size_t start = 0;
        for (;;) {
            size_t p = s.find("&&", start);
            out.push_back(trim(s.substr(start, p - start)));
            if (p == std::string::npos)
                return out;
            start = p + 2;
        }
    }

    void packConditions() {
        std::vector<uint16_t> halves;
        for (const CondEntry& e : conds_)
            halves.push_back(uint16_t((e.mrgc ? 2u : 0u) << 14 | e.cluster << 14 |
                                      uint32_t(e.mask) << 10 | uint32_t(e.neg) << 7 | e.psrc));
        if (halves.size() > 6)
            throw AsmError("too many predicate conditions in one bundle (at most 6)");
        b_.cdsCount = unsigned((halves.size() + 1) / 2);
        for (size_t i = 0; i < halves.size(); ++i) {
            if (i & 1)
                b_.cds[i / 2] |= halves[i];
            else
                b_.cds[i / 2] |= uint32_t(halves[i]) << 16;
        }
    }

    // LTS ------------------------------------------------------------------------------
    // Literal placement as MCST's as does it: every literal may take any slot of its minimal
    // size or wider (16-bit: a half of LTS0/LTS1, high half first; 32-bit: LTS0..3; 64-bit:
    // LTS0..2 and the next); halves holding equal values are shared. Literals with fewer
    // choices (then wider ones) are placed first, all combinations are tried in order, and
    // the first one with the smallest mask of used halves wins (bit 2w+1: low half of LTSw,
    // bit 2w: its high half, so the high halves and the low words come first).
    struct Slot {
        unsigned pos;  // half-syllable: 2w = LTSw low, 2w+1 = high
        unsigned size; // halves: 1, 2, 4
    };
    struct Literal {
        int request = -1; // index in lits_, -1 for the setwd word
        std::vector<Slot> slots;
        uint64_t value = 0;
        bool fixup = false;
    };

    static bool sameReloc(const LitRequest& a, const LitRequest& b) {
        return a.value == b.value && a.reloc.section == b.reloc.section &&
               a.reloc.symbol == b.reloc.symbol;
    }

    static unsigned maskBit(unsigned pos) { return ((pos >> 1) << 1) + 1 - (pos & 1); }

    void allocateLiterals() {
        std::vector<Literal> lits;
        if (hasSetwd_)
            lits.push_back({-1, {{0, 2}}, setwdWord_, true});
        for (size_t i = 0; i < lits_.size(); ++i) {
            const LitRequest& r = lits_[i];
            Literal l;
            l.request = int(i);
            l.value = r.value;
            l.fixup = r.fixup;
            if (r.place >= 0) {
                l.slots.push_back({unsigned(r.place), r.width / 16});
                lits.push_back(l);
                continue;
            }
            for (unsigned w = r.width; w <= (r.exactWidth ? r.width : 64u); w *= 2) {
                if (w == 16)
                    for (unsigned pos : {1u, 0u, 3u, 2u})
                        l.slots.push_back({pos, 1});
                if (w == 32)
                    for (unsigned pos : {0u, 2u, 4u, 6u})
                        l.slots.push_back({pos, 2});
                if (w == 64)
                    for (unsigned pos : {0u, 2u, 4u})
                        l.slots.push_back({pos, 4});
            }
            lits.push_back(l);
        }
        std::stable_sort(lits.begin(), lits.end(), [](const Literal& a, const Literal& b) {
            if (a.slots.size() != b.slots.size())
                return a.slots.size() < b.slots.size();
            for (size_t k = 0; k < a.slots.size(); ++k)
                if (a.slots[k].size != b.slots[k].size)
                    return a.slots[k].size > b.slots[k].size;
            return false;
        });
        struct Half {
            int owner = -1; // index in lits
            unsigned sub = 0;
        };
        const size_t n = lits.size();
        std::vector<size_t> choice(n, 0), best;
        unsigned bestMask = 0x100;
        Half halves[8];
        auto halfValue = [&](size_t lit, unsigned sub) {
            return uint16_t(lits[lit].value >> (16 * sub));
        };
        // Depth-first over the choices, in the order MCST's as enumerates them.
        auto search = [&](auto&& self, size_t k, unsigned mask, Half* state) -> void {
            if (k == n) {
                if (mask < bestMask) {
                    bestMask = mask;
                    best = choice;
                }
                return;
            }
            for (size_t c = 0; c < lits[k].slots.size(); ++c) {
                const Slot& sl = lits[k].slots[c];
                bool fits = sl.pos + sl.size <= 8;
                for (unsigned i = 0; fits && i < sl.size; ++i) {
                    const Half& h = state[sl.pos + i];
                    if (h.owner < 0)
                        continue;
                    const Literal& o = lits[size_t(h.owner)];
                    if (o.fixup || lits[k].fixup) {
                        // The same symbol and addend, the same half of it, share.
                        if (!(o.fixup && lits[k].fixup && o.request >= 0 && lits[k].request >= 0 &&
                              sameReloc(lits_[size_t(o.request)], lits_[size_t(lits[k].request)]) &&
                              h.sub == i))
                            fits = false;
                    } else if (halfValue(size_t(h.owner), h.sub) != halfValue(k, i)) {
                        fits = false;
                    }
                }
                if (!fits)
                    continue;
                Half next[8];
                std::copy(state, state + 8, next);
                unsigned m = mask;
                for (unsigned i = 0; i < sl.size; ++i) {
                    if (next[sl.pos + i].owner < 0)
                        next[sl.pos + i] = {int(k), i};
                    m |= 1u << maskBit(sl.pos + i);
                }
                choice[k] = c;
                self(self, k + 1, m, next);
            }
        };
        search(search, 0, 0, halves);
        if (bestMask == 0x100)
            throw AsmError("too many literals in one bundle");
        // Lay the chosen placement out.
        Half used[8];
        for (size_t k = 0; k < n; ++k) {
            const Slot& sl = lits[k].slots[best[k]];
            for (unsigned i = 0; i < sl.size; ++i)
                if (used[sl.pos + i].owner < 0)
                    used[sl.pos + i] = {int(k), i};
            if (lits[k].request < 0)
                continue;
            const LitRequest& r = lits_[size_t(lits[k].request)];
            unsigned word = sl.pos / 2;
            uint8_t code = sl.size == 1   ? uint8_t(0xD0 | word | ((sl.pos & 1) ? 4 : 0))
                           : sl.size == 2 ? uint8_t(0xD8 | word)
                                          : uint8_t(0xDC | word);
            b_.als[r.channel] = (b_.als[r.channel] & ~0xFF00u) | uint32_t(code) << 8;
            bool shared = used[sl.pos].owner != int(k); // a relocation of its own only once
            if (r.fixup && ctx_.fixups && !shared)
                ctx_.fixups->push_back(
                    {sl.size == 4 ? BundleFixup::Literal64 : BundleFixup::Literal32, word,
                     r.reloc});
        }
        unsigned top = 0;
        for (unsigned p = 0; p < 8; ++p)
            if (bestMask & (1u << maskBit(p)))
                top = p / 2 + 1;
        b_.ltsCount = top;
        for (unsigned w = 0; w < 4; ++w) {
            uint32_t v = 0;
            for (unsigned hlf = 0; hlf < 2; ++hlf) {
                const Half& h = used[2 * w + hlf];
                if (h.owner >= 0 && !lits[size_t(h.owner)].fixup)
                    v |= uint32_t(halfValue(size_t(h.owner), h.sub)) << (16 * hlf);
                if (h.owner >= 0 && lits[size_t(h.owner)].request < 0)
                    v = setwdWord_;
            }
            b_.lts[w] = v;
        }
    }

    RawBundle b_;
    const BundleContext& ctx_;
    bool final_;
    Cs1 cs1Kind_ = Cs1::None;
    uint32_t cs1Value_ = 0, setbrBits_ = 0;
    bool dblSetr1_ = false;
    bool hasSetwd_ = false;
    uint32_t setwdWord_ = 0;
    bool ssUsed_ = false;
    bool explicitNop_ = false;
    unsigned standaloneDelay_ = 0;
    uint8_t ctop_ = 0, ipd_ = 3;
    uint16_t ctcond_ = 0;
    uint32_t stubs_ = 0;
    uint8_t incr_[6] = {}; // incr,N: %aaincr index + 1
    std::vector<LitRequest> lits_;
    std::vector<CondEntry> conds_;
    unsigned plsCount_ = 0;
    uint8_t elp_[4] = {};
    uint32_t clp_[3] = {};
};

} // namespace

std::vector<std::string> splitOps(const std::string& text) {
    std::vector<std::string> out;
    for (std::string& p : splitTop(text, ';'))
        if (!p.empty())
            out.push_back(p);
    return out;
}

RawBundle encodeBundle(const std::vector<std::string>& ops, const BundleContext& context) {
    Encoder e(context);
    for (const std::string& op : ops)
        e.add(op);
    RawBundle b = e.finish();
    return b;
}

std::vector<uint32_t> assembleBundleText(const std::string& text, uint64_t address) {
    std::string t = trim(text);
    if (!t.empty() && t.front() == '{') {
        if (t.back() != '}')
            throw AsmError("unterminated bundle");
        t = t.substr(1, t.size() - 2);
    }
    BundleContext ctx;
    ctx.dot.value = int64_t(address);
    ctx.objectMode = true;
    std::vector<std::string> ops = splitOps(t);
    if (std::any_of(ops.begin(), ops.end(), isPrefetchOp)) {
        auto words = encodePrefetchInstruction(ops, ctx.dot, {}, true);
        return {words.begin(), words.end()};
    }
    return packBundle(encodeBundle(ops, ctx));
}

} // namespace e2kvm::emu

#include "emu/asm/Disassembler.h"

#include "emu/asm/BundleEncoder.h"
#include "emu/cpu/OpTable.h"

#include <cstdint>
#include <cstdio>
#include <vector>

namespace e2kvm::emu {

namespace {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string num(int64_t v) {
    if (v >= 0 && v < 10)
        return std::to_string(v);
    if (v < 0)
        return "-" + hex(uint64_t(0) - uint64_t(v));
    return hex(uint64_t(v));
}

int64_t sext(uint64_t v, unsigned bits) {
    uint64_t m = uint64_t(1) << (bits - 1);
    v &= (m << 1) - 1;
    return int64_t((v ^ m) - m);
}

std::string reg(uint8_t v, bool wide) {
    if (v < 0x80)
        return std::string(wide ? "%db[" : "%b[") + std::to_string(v) + "]";
    if (v < 0xC0)
        return std::string(wide ? "%dr" : "%r") + std::to_string(v & 0x3F);
    if (v >= 0xE0)
        return std::string(wide ? "%dg" : "%g") + std::to_string(v & 0x1F);
    return "?" + hex(v);
}

class Printer {
public:
    // `placed`: every literal with its format and place ("_f16s,_lts1hi 5"), for bundles
    // whose literals the assembler would place differently.
    Printer(const RawBundle& b, uint64_t ip, bool placed = false)
        : b_(b), ip_(ip), placed_(placed) {}

    bool usedLiteral() const { return usedLiteral_; }

    std::string run() {
        cs1();
        cs0();
        for (unsigned ch = 0; ch < 6; ++ch)
            if (b_.alsMask & (1u << ch))
                als(ch);
        for (const std::string& i : pendingIncr_)
            out_.push_back(i);
        aas();
        ss();
        pls();
        if (b_.loopMode)
            out_.push_back("loop_mode");
        if (b_.nop)
            out_.push_back("nop " + std::to_string(b_.nop));
        if (out_.empty())
            out_.push_back("nop 0");
        std::string s = "{ ";
        for (size_t i = 0; i < out_.size(); ++i)
            s += (i ? "; " : "") + out_[i];
        return s + " }";
    }

private:
    std::string src1(uint8_t v, bool wide) {
        if (v >= 0xC0 && v < 0xE0)
            return std::to_string(v & 0x1F);
        return reg(v, wide);
    }

    std::string src2(uint8_t v, bool wide) {
        if (v >= 0xC0 && v < 0xD0)
            return std::to_string(v & 0x0F);
        if (v >= 0xD0 && v < 0xE0) {
            auto lts = [&](unsigned n) -> uint32_t { return n < b_.ltsCount ? b_.lts[n] : 0; };
            const std::string place = "_lts" + std::to_string(v & 3);
            usedLiteral_ = true;
            switch (v) {
            case 0xD0:
            case 0xD1:
                return literal(sext(lts(v & 1) & 0xFFFF, 16), 16, wide, place + "lo");
            case 0xD4:
            case 0xD5:
                return literal(sext(lts(v & 1) >> 16, 16), 16, wide, place + "hi");
            case 0xD8:
            case 0xD9:
            case 0xDA:
            case 0xDB: {
                uint32_t w = lts(v & 3);
                return wide ? literal(sext(w, 32), 32, wide, place)
                            : literal(int64_t(w), 32, wide, place, true);
            }
            case 0xDC:
            case 0xDD:
            case 0xDE: {
                unsigned n = v - 0xDC;
                return literal(int64_t(uint64_t(lts(n + 1)) << 32 | lts(n)), 64, wide, place, true);
            }
            default:
                return "?lit" + hex(v);
            }
        }
        return reg(v, wide);
    }

    // A literal of `width` bits; MCST's format prefix ("_f64 0x11190") when the assembler
    // would otherwise encode the value differently (an inline 0..15, or a narrower literal).
    std::string literal(int64_t v, unsigned width, bool wide, const std::string& place,
                        bool asHex = false) const {
        std::string text = asHex ? hex(uint64_t(v)) : num(v);
        const char* format = width == 16 ? "_f16s" : width == 32 ? "_f32s" : "_f64";
        if (placed_)
            return std::string(format) + "," + place + " " + text;
        const bool fits16 = v >= INT16_MIN && v <= INT16_MAX;
        const bool fits32 = v >= INT32_MIN && v <= INT32_MAX;
        const unsigned natural = (v >= 0 && v <= 15) ? 0
                                 : fits16            ? 16
                                 : (fits32 || !wide) ? 32
                                                     : 64;
        if (natural == width)
            return text;
        return std::string(format) + " " + text;
    }

    std::string dst(uint8_t v, bool wide) {
        if (v >= 0xD1 && v <= 0xD3)
            return "%ctpr" + std::to_string(v - 0xD0);
        if (v == 0xDF)
            return "%empty";
        if (v == 0xDE)
            return "%empty.lo";
        return reg(v, wide);
    }

    static std::string pred(uint8_t psrc, bool neg) {
        std::string s = neg ? "~" : "";
        if (psrc >= 0x60)
            return s + "%pred" + std::to_string(psrc - 0x60);
        if (psrc >= 0x40)
            return s + "%pcnt" + std::to_string(psrc - 0x40);
        return s + "?psrc" + hex(psrc);
    }

    // RLP terms and MRGC predicate of one channel from the CDS entries.
    void conditions(unsigned ch, std::vector<std::string>& rlp, std::string& mrgc) {
        for (unsigned i = 0; i < b_.cdsCount; ++i)
            for (unsigned half = 0; half < 2; ++half) {
                uint16_t h = uint16_t(half ? b_.cds[i] : b_.cds[i] >> 16);
                unsigned opc = h >> 14, mask = (h >> 10) & 7, neg = (h >> 7) & 7;
                if ((opc & 1) != ch / 3 || !(mask & (1u << (ch % 3))))
                    continue;
                std::string p = pred(h & 0x7F, (neg >> (ch % 3)) & 1);
                if (opc & 2)
                    mrgc = p;
                else
                    rlp.push_back(p);
            }
    }

    void als(unsigned ch) {
        uint32_t a = b_.als[ch];
        bool hasAles = b_.alesMask & (1u << ch);
        const OpInfo* o = findOp(a, hasAles, b_.ales[ch], ch);
        std::vector<std::string> rlp;
        std::string mrgc;
        conditions(ch, rlp, mrgc);
        std::string s;
        if (!o) {
            s = ".als," + std::to_string(ch) + " " + hex(a);
            if (hasAles)
                s += ", ales=" + hex(b_.ales[ch]);
        } else {
            uint8_t s1 = (a >> 16) & 0xFF, s2 = (a >> 8) & 0xFF, d = a & 0xFF;
            s = std::string(o->name) + "," + std::to_string(ch) + ((a >> 31) ? ",sm " : " ");
            switch (o->form) {
            case OpForm::Alu:
            case OpForm::Load:
                s += src1(s1, o->src1Wide) + ", " + src2(s2, o->src2Wide) + ", " +
                     dst(d, o->dstWide);
                break;
            case OpForm::Merge:
                s += src1(s1, o->src1Wide) + ", " + src2(s2, o->src2Wide) + ", " +
                     dst(d, o->dstWide) + ", " + (mrgc.empty() ? "?nomrgc" : mrgc);
                break;
            case OpForm::Cmp:
                s += src1(s1, o->src1Wide) + ", " + src2(s2, o->src2Wide) + ", %pred" +
                     std::to_string(d & 0x1F);
                break;
            case OpForm::Store:
                s += reg(d, o->dstWide) + ", [ " + src1(s1, true) + " + " + src2(s2, true) + " ]";
                break;
            case OpForm::Unary:
            case OpForm::Getsp:
                s += src2(s2, o->src2Wide) + ", " + dst(d, o->dstWide);
                break;
            case OpForm::Rr: {
                const char* n = stateRegName(s1);
                s += (n ? std::string("%") + n : "%sr" + std::to_string(s1)) + ", " +
                     dst(d, o->dstWide);
                break;
            }
            case OpForm::Rw: {
                const char* n = stateRegName(d);
                s += src2(s2, o->src2Wide) + ", " +
                     (n ? std::string("%") + n : "%sr" + std::to_string(d));
                break;
            }
            case OpForm::Insf:
                s += src1(s1, o->src1Wide) + ", " + src2(s2, o->src2Wide) + ", " +
                     reg(uint8_t(b_.ales[ch] & 0xFF), o->dstWide) + ", " + dst(d, o->dstWide);
                break;
            case OpForm::Staa:
            case OpForm::Ldaa:
                s = aau(ch, *o, a);
                break;
            }
            const bool aauMemory = (o->form == OpForm::Staa || o->form == OpForm::Ldaa) &&
                                   s.rfind("aaur", 0) != 0; // aaurw/aaurr imply MAS 0x3f
            if ((o->form == OpForm::Load || o->form == OpForm::Store || aauMemory) &&
                masSyllable()) {
                static const int shift[6] = {21, -1, 14, 7, -1, 0};
                if (shift[ch] >= 0) {
                    unsigned m = (b_.cs1 >> shift[ch]) & 0x7F;
                    if (m) {
                        s += " mas=" + hex(m);
                        masCovered_ |= 0x7Fu << shift[ch];
                    }
                }
            }
        }
        if (!rlp.empty()) {
            s += " ? ";
            for (size_t i = 0; i < rlp.size(); ++i)
                s += (i ? " && " : "") + rlp[i];
        }
        out_.push_back(s);
    }

    bool masSyllable() const { return b_.hasCs1 && (b_.cs1 >> 28) == 6; }

    unsigned masOf(unsigned ch) const {
        static const int shift[6] = {21, -1, 14, 7, -1, 0};
        return masSyllable() && shift[ch] >= 0 ? (b_.cs1 >> shift[ch]) & 0x7F : 0;
    }

    // staa*/ldaa* (ALS 23:8 = AAU fields), or aaurw*/aaurr* when their MAS is 0x3f (which the
    // name then stands for).
    std::string aau(unsigned ch, const OpInfo& o, uint32_t a) {
        const unsigned f = (a >> 8) & 0xFFFF, lt = f & 3, aaopc = (f >> 2) & 3, incr = (f >> 4) & 7,
                       ind = (f >> 7) & 15, aad = (f >> 11) & 31;
        const bool store = o.form == OpForm::Staa;
        const std::string c = "," + std::to_string(ch) + ((a >> 31) ? ",sm " : " ");
        const uint8_t d = a & 0xFF;
        if (masOf(ch) == 0x3F && o.memSize >= 4 && !lt && !(f & 0x70)) {
            static const char* regs[] = {"%aad", "%aasti", "%aaind", "%aaincr"};
            masCovered_ |= 0x7Fu << (ch == 2 ? 14 : 0);
            const std::string r = regs[aaopc] + std::to_string(aaopc ? ind : aad);
            const std::string n =
                std::string(store ? "aaurw" : "aaurr") + (o.memSize == 8 ? "d" : "");
            if ((aaopc == 0 && ind == 0) || (aaopc != 0 && aad == 0))
                return n + c +
                       (store ? reg(d, o.memSize == 8) + ", " + r
                              : r + ", " + dst(d, o.memSize == 8));
        }
        const std::string addr = "%aad" + std::to_string(aad) + " [ %aasti" + std::to_string(ind) +
                                 (lt ? " + ?lts" + std::to_string(lt - 1) : "") + " ]";
        std::string s = std::string(o.name) + c +
                        (store ? reg(d, o.dstWide) + ", " + addr : addr + ", " + dst(d, o.dstWide));
        if (store && (aaopc & 1))
            pendingIncr_.push_back("incr," + std::to_string(ch) + " %aaincr" +
                                   std::to_string(incr));
        return s;
    }

    void aas() {
        static const char* names[] = {"?mova0", "movab",  "movah",  "movaw",
                                      "movad",  "?mova5", "?mova6", "?mova7"};
        for (unsigned i = 0; i < 4; ++i) {
            if (!(b_.aasMask & (1u << (2 + i))))
                continue;
            const uint16_t a = b_.aas[2 + i];
            const uint8_t d = uint8_t(b_.aas[i / 2] >> ((i & 1) ? 0 : 8));
            out_.push_back(std::string(names[(a >> 12) & 7]) + "," + std::to_string(i) +
                           " area=" + std::to_string((a >> 6) & 0x1F) +
                           ", ind=" + std::to_string((a >> 1) & 0x1F) +
                           ", am=" + std::to_string(a & 1) + ", be=" + std::to_string(a >> 15) +
                           ", " + dst(d, false)); // MCST as wants %rN here
        }
    }

    void cs1() {
        if (!b_.hasCs1)
            return;
        uint32_t c = b_.cs1;
        unsigned opc = c >> 28;
        auto setbr = [&] {
            if (c & (1u << 26))
                out_.push_back("setbn rsz=" + std::to_string((c >> 6) & 0x3F) +
                               ", rbs=" + std::to_string(c & 0x3F) +
                               ", rcur=" + std::to_string((c >> 12) & 0x3F));
            if (c & (1u << 27))
                out_.push_back("setbp psz=" + std::to_string((c >> 18) & 0x1F));
        };
        switch (opc) {
        case 0: {
            uint32_t l = b_.ltsCount ? b_.lts[0] : 0;
            out_.push_back("setwd wsz=" + hex((l >> 5) & 0x7F) + ", nfx=" +
                           std::to_string((l >> 4) & 1) + ((l >> 3) & 1 ? ", dbl=1" : ""));
            setbr();
            break;
        }
        case 2:
            out_.push_back("setei " + hex(c & 0xFF));
            break;
        case 3: {
            static const char* names[] = {"all_c", "all_e", "st_c", "ld_c", "fl_c",
                                          "ma_c",  "trap",  "sas",  "sal"};
            std::string s = "wait ";
            bool any = false;
            for (unsigned i = 0; i < 9; ++i)
                if (c & (1u << i)) {
                    s += std::string(any ? ", " : "") + names[i] + "=1";
                    any = true;
                }
            if (!any)
                s += "all_c=0";
            out_.push_back(s);
            break;
        }
        case 4:
            setbr();
            break;
        case 5:
            break; // printed with ct
        case 6:
            pendingMas_ = true;
            break;
        case 7:
            if (c & 1)
                out_.push_back("flushr");
            if (c & 2)
                out_.push_back("flushc");
            break;
        default:
            out_.push_back("?cs1 " + hex(c));
        }
    }

    void cs0() {
        if (!b_.hasCs0)
            return;
        uint32_t c = b_.cs0;
        unsigned ctpr = c >> 30, opc = (c >> 28) & 3;
        uint32_t param = c & 0x0FFFFFFF;
        uint64_t target = ip_ + uint64_t(sext(param, 28) * 8);
        if (ctpr == 0 && opc == 0) {
            ibranchTarget_ = hex(target);
            return;
        }
        if (ctpr == 0 && opc == 3 && param == 0) {
            done_ = true;
            return;
        }
        if (ctpr && opc == 0)
            out_.push_back("disp %ctpr" + std::to_string(ctpr) + ", " + hex(target));
        else if (ctpr && opc == 2)
            out_.push_back("sdisp %ctpr" + std::to_string(ctpr) + ", " + hex(param));
        else if (ctpr == 2 && opc == 1)
            out_.push_back("ldisp %ctpr2, " + hex(target));
        else if (ctpr == 3 && opc == 3 && param == 0)
            out_.push_back("return %ctpr3");
        else
            out_.push_back("?cs0 " + hex(c));
    }

    static std::string ctCond(unsigned cond) {
        unsigned type = cond >> 5, p = cond & 0x1F;
        std::string pr = "%pred" + std::to_string(p);
        switch (type) {
        case 1:
            return "";
        case 2:
            return " ? " + pr;
        case 3:
            return " ? ~" + pr;
        case 4:
            if (p == 0)
                return " ? #LOOP_END";
            break;
        case 5:
            if (p == 0)
                return " ? #NOT_LOOP_END";
            break;
        case 6:
            return " ? " + pr + " || #LOOP_END";
        case 8:
            if (p == 0)
                return " ? %MLOCK";
            break;
        case 7:
            return " ? ~" + pr + " && #NOT_LOOP_END";
        case 14:
            return " ? ~" + pr + " || #LOOP_END";
        case 15:
            return " ? " + pr + " && #NOT_LOOP_END";
        default:
            break;
        }
        return " ? #ctcond=" + hex(cond);
    }

    void ss() {
        bool any = false;
        if (b_.hasSs) {
            uint32_t s = b_.ss;
            unsigned ctop = (s >> 10) & 3, cond = s & 0x1FF;
            bool call = b_.hasCs1 && (b_.cs1 >> 28) == 5;
            if (ctop) {
                if (call)
                    out_.push_back("call %ctpr" + std::to_string(ctop) +
                                   ", wbs=" + std::to_string(b_.cs1 & 0x7F) + ctCond(cond));
                else
                    out_.push_back("ct %ctpr" + std::to_string(ctop) + ctCond(cond));
                any = true;
            } else if (!ibranchTarget_.empty()) {
                out_.push_back("ibranch " + ibranchTarget_ + ctCond(cond));
                any = true;
            } else if (done_) {
                out_.push_back("done" + ctCond(cond));
                any = true;
            } else if (cond) {
                out_.push_back("?ctcond " + hex(cond));
            }
            auto stub = [&](const char* n, int t, int f) {
                bool bt = (s >> t) & 1, bf = (s >> f) & 1;
                if (!bt && !bf)
                    return;
                std::string x = std::string(n) + " ";
                if (bt)
                    x += std::string(n) + "t=1";
                if (bf)
                    x += std::string(bt ? ", " : "") + n + "f=1";
                out_.push_back(x);
                any = true;
            };
            stub("abn", 21, 22);
            stub("abp", 18, 19);
            stub("alc", 16, 17);
            for (const char* n : {"bap", "eap"})
                if (s & (1u << (n[0] == 'b' ? 28 : 29))) {
                    out_.push_back(n);
                    any = true;
                }
            if (b_.aasMask)
                any = true;
            unsigned ipd = s >> 30;
            if (ipd != 3 || !any)
                out_.push_back("ipd " + std::to_string(ipd));
        }
        if (pendingMas_) {
            uint32_t rest = b_.cs1 & 0x0FFFFFFF & ~masCovered_;
            if (rest || masCovered_ == 0)
                out_.push_back("setmas " + hex(rest));
        }
    }

    void pls() {
        for (unsigned i = 0; i < b_.plsCount; ++i) {
            uint32_t w = b_.pls[i];
            if (i < 2) {
                for (unsigned e = 0; e < 2; ++e) {
                    uint8_t psrc = (w >> (e ? 16 : 24)) & 0x7F;
                    if (psrc == 0)
                        continue;
                    out_.push_back("pass " + (psrc >= 0x60 ? pred(psrc, false) : "?") + ", @p" +
                                   std::to_string(2 * i + e));
                }
            }
            unsigned opc = (w >> 14) & 3;
            if (w & 0xFFFF) {
                static const char* names[] = {"andp", "landp", "?clp", "movep"};
                out_.push_back(std::string(names[opc]) + " " + ((w >> 13) & 1 ? "~" : "") + "@p" +
                               std::to_string((w >> 10) & 7) + ", " + ((w >> 9) & 1 ? "~" : "") +
                               "@p" + std::to_string((w >> 6) & 7) + ", @p" +
                               std::to_string(4 + i));
                if ((w >> 5) & 1)
                    out_.push_back("pass @p" + std::to_string(4 + i) + ", %pred" +
                                   std::to_string(w & 0x1F));
            }
        }
    }

    const RawBundle& b_;
    uint64_t ip_;
    std::vector<std::string> out_;
    std::string ibranchTarget_;
    bool done_ = false;
    bool pendingMas_ = false;
    std::vector<std::string> pendingIncr_;
    uint32_t masCovered_ = 0;
    bool placed_ = false;
    bool usedLiteral_ = false;
};

// True if `text` assembles at `address` to the words of `b`.
bool assemblesTo(const std::string& text, uint64_t address, const RawBundle& b) {
    try {
        return assembleBundleText(text, address) == packBundle(b);
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace

std::string disassembleBundle(const RawBundle& b, uint64_t address) {
    Printer plain(b, address);
    std::string text = plain.run();
    // Literals the assembler would place elsewhere (MCST's "_f16s,_lts1hi 5" written by
    // hand) are printed with their places.
    if (plain.usedLiteral() && !assemblesTo(text, address, b)) {
        std::string placed = Printer(b, address, true).run();
        if (assemblesTo(placed, address, b))
            return placed;
    }
    return text;
}

} // namespace e2kvm::emu

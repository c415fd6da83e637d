#include "emu/cpu/DecodedBundle.h"

namespace e2kvm::emu {

namespace {

int64_t sext(uint64_t v, unsigned bits) {
    uint64_t m = uint64_t(1) << (bits - 1);
    v &= (m << 1) - 1;
    return int64_t((v ^ m) - m);
}

struct Decoder {
    const RawBundle& raw;
    DecodedBundle& out;

    void illegal(const std::string& why, uint8_t channels = 0) {
        if (!out.illegal) {
            out.illegal = true;
            out.illegalReason = why;
        }
        out.illegalChannels |= channels;
    }

    void useReg(OperandType t, uint8_t idx) {
        if (t == OperandType::Direct && idx < kGlobalBase && idx + 1 > out.needWindow)
            out.needWindow = uint8_t(idx + 1);
        if (t == OperandType::Based && idx + 1 > out.needBased)
            out.needBased = uint8_t(idx + 1);
    }

    Operand regOperand(uint8_t v) {
        Operand o;
        if (v < 0x80) {
            o.type = OperandType::Based;
            o.index = v;
        } else if (v < 0xC0) {
            o.type = OperandType::Direct;
            o.index = v & 0x3F;
        } else {
            o.type = OperandType::Direct;
            o.index = uint8_t(kGlobalBase + (v & 0x1F));
        }
        useReg(o.type, o.index);
        return o;
    }

    Operand src1(uint8_t v) {
        if (v >= 0xC0 && v < 0xE0)
            return Operand{OperandType::Imm, 0, uint64_t(v & 0x1F)};
        return regOperand(v);
    }

    bool literal(uint8_t v, Operand& o, unsigned ch) {
        o.type = OperandType::Imm;
        auto need = [&](unsigned n) {
            if (n >= raw.ltsCount) {
                illegal("ALC" + std::to_string(ch) + " refers to missing literal LTS" +
                            std::to_string(n),
                        uint8_t(1u << ch));
                return false;
            }
            return true;
        };
        switch (v) {
        case 0xD0:
        case 0xD1:
            if (!need(v & 1))
                return false;
            o.imm = uint64_t(sext(raw.lts[v & 1] & 0xFFFF, 16));
            return true;
        case 0xD4:
        case 0xD5:
            if (!need(v & 1))
                return false;
            o.imm = uint64_t(sext(raw.lts[v & 1] >> 16, 16));
            return true;
        case 0xD8:
        case 0xD9:
        case 0xDA:
        case 0xDB:
            if (!need(v & 3))
                return false;
            o.imm = uint64_t(sext(raw.lts[v & 3], 32));
            return true;
        case 0xDC:
        case 0xDD:
        case 0xDE: {
            unsigned n = v - 0xDC;
            if (!need(n + 1))
                return false;
            o.imm = uint64_t(raw.lts[n + 1]) << 32 | raw.lts[n];
            return true;
        }
        default:
            illegal("ALC" + std::to_string(ch) + ": reserved literal reference 0x" + hex(v),
                    uint8_t(1u << ch));
            return false;
        }
    }

    Operand src2(uint8_t v, unsigned ch) {
        if (v >= 0xC0 && v < 0xD0)
            return Operand{OperandType::Imm, 0, uint64_t(v & 0x0F)};
        if (v >= 0xD0 && v < 0xE0) {
            Operand o;
            literal(v, o, ch);
            return o;
        }
        return regOperand(v);
    }

    Operand src3(uint8_t v, unsigned ch) {
        if (v >= 0xC0 && v < 0xE0) {
            illegal("ALC" + std::to_string(ch) + ": src3 cannot be an immediate",
                    uint8_t(1u << ch));
            return Operand{};
        }
        return regOperand(v);
    }

    void dst(uint8_t v, DecodedOp& op) {
        if (v < 0xC0 || v >= 0xE0) {
            Operand o = regOperand(v);
            op.dstType = o.type == OperandType::Based ? DstType::Based : DstType::Direct;
            op.dst = o.index;
        } else if (v >= 0xD1 && v <= 0xD3) {
            op.dstType = DstType::Ctpr;
            op.dst = v - 0xD0;
        } else if (v == 0xDE || v == 0xDF) {
            op.dstType = DstType::Empty;
        } else {
            illegal("ALC" + std::to_string(op.channel) + ": unsupported destination 0x" + hex(v),
                    uint8_t(1u << op.channel));
        }
    }

    static std::string hex(unsigned v) {
        static const char* d = "0123456789abcdef";
        std::string s;
        do {
            s.insert(s.begin(), d[v & 15]);
            v >>= 4;
        } while (v);
        return s;
    }

    bool predSource(uint8_t psrc, PredCond& c) {
        if (psrc >= 0x60) {
            c.kind = PredCond::Pred;
            c.index = psrc & 0x1F;
            return true;
        }
        if (psrc >= 0x40 && psrc < 0x60) {
            c.kind = PredCond::Pcnt;
            c.index = psrc & 0x1F;
            return true;
        }
        return false;
    }

    void run() {
        out.size = uint8_t(raw.sizeBytes);
        out.loopMode = raw.loopMode;
        decodeSs();
        decodeCs1();
        decodeCs0();
        decodeAls();
        decodeCds();
        decodePls();
        decodeAas();
        checkGroups();
    }

    void decodeSs() {
        if (!raw.hasSs)
            return;
        uint32_t ss = raw.ss;
        out.ctcond = ss & 0x1FF;
        out.ctop = (ss >> 10) & 3;
        out.alc = uint8_t(((ss >> 16) & 1) | ((ss >> 17) & 1) << 1);
        out.abp = uint8_t(((ss >> 18) & 1) | ((ss >> 19) & 1) << 1);
        out.abn = uint8_t(((ss >> 21) & 1) | ((ss >> 22) & 1) << 1);
        out.bap = (ss >> 28) & 1;
        out.eap = (ss >> 29) & 1;
        if (out.bap || out.eap)
            out.aau = true;
        if (ss & 0x0F800200u)
            illegal("SS: unsupported stub (abg/crp/vfdi/srp) or reserved bit");
        unsigned type = out.ctcond >> 5;
        if (type >= 10 && type <= 13)
            illegal("SS: reserved ct condition type " + std::to_string(type));
        if (out.ctop && !out.ctcond)
            out.ctop = out.ctop; // a ct that never fires is legal
    }

    void decodeCs1() {
        if (!raw.hasCs1)
            return;
        uint32_t cs1 = raw.cs1;
        unsigned opc = cs1 >> 28;
        auto setbr = [&] {
            if (cs1 & (1u << 26)) {
                out.setbn = true;
                out.rbs = cs1 & 0x3F;
                out.rsz = (cs1 >> 6) & 0x3F;
                out.rcur = (cs1 >> 12) & 0x3F;
                if (out.rcur > out.rsz)
                    illegal("setbn: rcur " + std::to_string(out.rcur) + " exceeds rsz " +
                            std::to_string(out.rsz));
            }
            if (cs1 & (1u << 27)) {
                out.setbp = true;
                out.psz = (cs1 >> 18) & 0x1F;
            }
        };
        switch (opc) {
        case 0:
        case 1: {
            if (raw.ltsCount == 0) {
                illegal("setwd without LTS0");
                return;
            }
            uint32_t l = raw.lts[0];
            out.setwd = true;
            out.wsz = (l >> 5) & 0x7F;
            out.dbl = (l >> 3) & 1;
            if (out.wsz > 112)
                illegal("setwd: wsz " + std::to_string(out.wsz) + " exceeds 112");
            setbr();
            break;
        }
        case 2: // setei / setsft: no effect without an interrupt controller model
            break;
        case 3:
            out.waitTrap = (cs1 >> 6) & 1;
            break;
        case 4:
            setbr();
            break;
        case 5:
            if (out.ctop == 0) {
                illegal("CS1: icall/hcall are not supported");
                return;
            }
            out.call = true;
            out.wbs = cs1 & 0x7F;
            break;
        case 6: // MAS, picked up per channel in decodeAls
            break;
        case 7:
            out.flushr = cs1 & 1;
            out.flushc = (cs1 >> 1) & 1;
            if (cs1 & 0x0FFFFFFCu)
                illegal("CS1: fillr/fillc or reserved FLUSHR bits");
            break;
        default:
            illegal("CS1: unsupported operation " + std::to_string(opc));
        }
    }

    void decodeCs0() {
        if (!raw.hasCs0)
            return;
        uint32_t cs0 = raw.cs0;
        unsigned ctpr = cs0 >> 30, opc = (cs0 >> 28) & 3;
        uint32_t param = cs0 & 0x0FFFFFFF;
        uint64_t target = out.ip + uint64_t(sext(param, 28) * 8);
        if (ctpr == 0) {
            switch (opc) {
            case 0:
                out.cs0 = Cs0Kind::Ibranch;
                out.cs0Value = target;
                if (out.ctop != 0 || out.ctcond == 0 || out.call)
                    illegal("ibranch needs SS with no CTPR and a condition, and no call");
                break;
            case 1:
                out.cs0 = Cs0Kind::Nop; // instruction prefetch
                break;
            case 3:
                if ((param & 7) != 0) {
                    illegal("CS0: iret/hret/glaunch are not supported");
                    break;
                }
                out.cs0 = Cs0Kind::Done;
                if (out.ctop != 0 || out.ctcond == 0 || out.call)
                    illegal("done needs SS with no CTPR and a condition");
                break;
            default:
                illegal("CS0: puttsd is not supported");
            }
            return;
        }
        out.cs0Ctpr = uint8_t(ctpr);
        switch (opc) {
        case 0:
            out.cs0 = Cs0Kind::Disp;
            out.cs0Value = target;
            break;
        case 2:
            out.cs0 = Cs0Kind::Sdisp;
            out.cs0Value = param;
            break;
        case 3:
            if (ctpr == 3 && param == 0) {
                out.cs0 = Cs0Kind::Return;
                break;
            }
            illegal("CS0: gettsd is not supported");
            break;
        default: // opc 1
            if (ctpr != 2) {
                illegal("CS0: ldisp needs %ctpr2");
                break;
            }
            out.cs0 = Cs0Kind::Ldisp;
            out.cs0Value = target;
        }
    }

    void decodeAls() {
        const bool masSyllable = raw.hasCs1 && (raw.cs1 >> 28) == 6;
        for (unsigned ch = 0; ch < 6; ++ch) {
            if (!(raw.alsMask & (1u << ch)))
                continue;
            uint32_t als = raw.als[ch];
            bool hasAles = raw.alesMask & (1u << ch);
            const OpInfo* info = findOp(als, hasAles, raw.ales[ch], ch);
            DecodedOp& op = out.ops[out.nOps++];
            op.channel = uint8_t(ch);
            if (!info) {
                illegal("ALC" + std::to_string(ch) + ": unknown operation (ALS 0x" + hex(als) +
                            (hasAles ? ", ALES 0x" + hex(raw.ales[ch]) : std::string()) + ")",
                        uint8_t(1u << ch));
                continue;
            }
            op.info = info;
            op.kind = info->kind;
            op.sm = als >> 31;
            uint8_t s1 = (als >> 16) & 0xFF, s2 = (als >> 8) & 0xFF, d = als & 0xFF;
            if (masSyllable) {
                static const int shift[6] = {21, -1, 14, 7, -1, 0};
                if (shift[ch] >= 0)
                    op.mas = (raw.cs1 >> shift[ch]) & 0x7F;
            }
            switch (info->form) {
            case OpForm::Alu:
            case OpForm::Merge:
            case OpForm::Load:
                op.src1 = src1(s1);
                op.src2 = src2(s2, ch);
                dst(d, op);
                break;
            case OpForm::Cmp:
                op.src1 = src1(s1);
                op.src2 = src2(s2, ch);
                op.dstType = DstType::Pred;
                op.dst = d & 0x1F;
                break;
            case OpForm::Store:
                op.src1 = src1(s1);
                op.src2 = src2(s2, ch);
                op.src3 = src3(d, ch);
                out.hasStore = true;
                break;
            case OpForm::Unary:
            case OpForm::Getsp:
                op.src2 = src2(s2, ch);
                dst(d, op);
                break;
            case OpForm::Rr:
                op.src1 = Operand{OperandType::Imm, s1, s1};
                dst(d, op);
                break;
            case OpForm::Rw:
                op.src2 = src2(s2, ch);
                op.dstType = DstType::State;
                op.dst = d;
                break;
            case OpForm::Insf:
                op.src1 = src1(s1);
                op.src2 = src2(s2, ch);
                op.src3 = src3(raw.ales[ch] & 0xFF, ch);
                dst(d, op);
                break;
            case OpForm::Staa:
            case OpForm::Ldaa: {
                // src1 = the AAU fields (ALS 23:8), src2 = the literal ALS 9:8 selects.
                const uint16_t fields = uint16_t(als >> 8);
                op.src1 = Operand{OperandType::Imm, 0, fields};
                op.src2 = Operand{OperandType::Imm, 0, 0};
                if (const unsigned lt = fields & 3) {
                    if (lt > raw.ltsCount)
                        illegal("ALC" + std::to_string(ch) + " refers to missing literal LTS" +
                                    std::to_string(lt - 1),
                                uint8_t(1u << ch));
                    else
                        op.src2.imm = uint64_t(sext(raw.lts[lt - 1], 32));
                }
                if (info->form == OpForm::Staa) {
                    op.src3 = src3(d, ch);
                    out.hasStore = true;
                } else {
                    dst(d, op);
                }
                out.aau = true;
                break;
            }
            }
            if ((info->form == OpForm::Load || info->form == OpForm::Store) && (op.mas & 7) == 7)
                illegal("ALC" + std::to_string(ch) + ": special MAS operations are not supported",
                        uint8_t(1u << ch));
        }
    }

    DecodedOp* opForChannel(unsigned ch) {
        for (unsigned i = 0; i < out.nOps; ++i)
            if (out.ops[i].channel == ch)
                return &out.ops[i];
        return nullptr;
    }

    void decodeCds() {
        for (unsigned i = 0; i < raw.cdsCount; ++i) {
            for (unsigned half = 0; half < 2; ++half) {
                uint16_t h = uint16_t(half ? raw.cds[i] : raw.cds[i] >> 16);
                unsigned opc = h >> 14, mask = (h >> 10) & 0xF, neg = (h >> 7) & 7;
                if (mask == 0)
                    continue;
                if (mask & 8) {
                    illegal("CDS: array-access (AM) predication is not supported");
                    continue;
                }
                PredCond c;
                if (!predSource(h & 0x7F, c)) {
                    illegal("CDS: unsupported predicate source 0x" + hex(h & 0x7F));
                    continue;
                }
                unsigned base = (opc & 1) ? 3 : 0;
                for (unsigned b = 0; b < 3; ++b) {
                    if (!(mask & (1u << b)))
                        continue;
                    DecodedOp* op = opForChannel(base + b);
                    if (!op)
                        continue;
                    PredCond cc = c;
                    cc.neg = (neg >> b) & 1;
                    if (opc & 2) {
                        if (op->hasMrgc)
                            illegal("CDS: two merge conditions for one channel");
                        op->hasMrgc = true;
                        op->mrgc = cc;
                    } else {
                        if (op->nConds == 4) {
                            illegal("CDS: too many conditions for one channel");
                            continue;
                        }
                        op->conds[op->nConds++] = cc;
                    }
                }
            }
        }
        for (unsigned i = 0; i < out.nOps; ++i) {
            const DecodedOp& op = out.ops[i];
            if (op.info && op.info->form == OpForm::Merge && !op.hasMrgc)
                illegal("ALC" + std::to_string(op.channel) + ": merge without a MRGC condition",
                        uint8_t(1u << op.channel));
            // Only movt* write a CTPR, and a speculative one only unconditionally (the suite's
            // int/ctpr-write-2 and plu/movtd-ctpr-cond-1 trap on hardware).
            if (op.info && op.dstType == DstType::Ctpr && op.kind != OpKind::Mov)
                illegal("ALC" + std::to_string(op.channel) + ": " + op.info->name +
                            " cannot write a CTPR",
                        uint8_t(1u << op.channel));
            if (op.info && op.dstType == DstType::Ctpr && op.sm && op.nConds)
                illegal("ALC" + std::to_string(op.channel) +
                            ": speculative CTPR write under a condition",
                        uint8_t(1u << op.channel));
        }
    }

    void decodePls() {
        out.nPls = uint8_t(raw.plsCount);
        DecodedPls& p = out.pls;
        for (unsigned i = 0; i < raw.plsCount; ++i) {
            uint32_t w = raw.pls[i];
            if (i < 2) {
                for (unsigned e = 0; e < 2; ++e) {
                    uint8_t psrc = (w >> (e ? 16 : 24)) & 0x7F;
                    if (psrc != 0 && psrc < 0x60)
                        illegal("PLS: unsupported ELP source 0x" + hex(psrc));
                    p.elp[2 * i + e] = psrc;
                    p.elpUsed[2 * i + e] = true;
                }
            }
            p.clpOpc[i] = (w >> 14) & 3;
            p.neg0[i] = (w >> 13) & 1;
            p.p0[i] = (w >> 10) & 7;
            p.neg1[i] = (w >> 9) & 1;
            p.p1[i] = (w >> 6) & 7;
            p.vdst[i] = (w >> 5) & 1;
            p.pdst[i] = w & 0x1F;
            if (p.clpOpc[i] == 2)
                illegal("PLS: reserved CLP operation");
            unsigned limit = i == 0 ? 1 : i == 1 ? 4 : 5;
            for (uint8_t src : {p.p0[i], p.p1[i]}) {
                if (src > limit || (src < 4 && !p.elpUsed[src]))
                    illegal("PLS" + std::to_string(i) + ": local predicate @p" +
                            std::to_string(src) + " is not available");
            }
            // Two CLPs may not write one predicate (the suite's plu/clp-arg-6/7 trap on
            // hardware: all three write %pred0).
            for (unsigned j = 0; j < i; ++j)
                if (p.vdst[i] && p.vdst[j] && p.pdst[i] == p.pdst[j])
                    illegal("PLS" + std::to_string(j) + " and PLS" + std::to_string(i) +
                            " both write %pred" + std::to_string(p.pdst[i]));
        }
    }

    // MOVA channel i: aas[2 + i]; its destination is a byte of aas[i / 2] (channel 0 and 2 in
    // the high byte).
    void decodeAas() {
        for (unsigned i = 0; i < 4; ++i) {
            if (!(raw.aasMask & (1u << (2 + i))))
                continue;
            const uint16_t a = raw.aas[2 + i];
            DecodedMova m;
            m.channel = uint8_t(i);
            m.opc = (a >> 12) & 7;
            if (m.opc == 0)
                continue;
            m.be = (a >> 15) & 1;
            m.area = (a >> 6) & 0x1F;
            m.ind = (a >> 1) & 0x1F;
            m.am = a & 1;
            const uint8_t d = uint8_t(raw.aas[i / 2] >> ((i & 1) ? 0 : 8));
            if (m.opc > 4) {
                illegal("MOVA" + std::to_string(i) + ": movaq/movaqp are not supported");
                continue;
            }
            if (d < 0xC0 || d >= 0xE0) {
                const Operand o = regOperand(d);
                m.dstType = o.type == OperandType::Based ? DstType::Based : DstType::Direct;
                m.dst = o.index;
            } else if (d == 0xDF) {
                m.dstType = DstType::Empty;
            } else {
                illegal("MOVA" + std::to_string(i) + ": unsupported destination 0x" + hex(d));
                continue;
            }
            out.mova[out.nMova++] = m;
            out.aau = true;
        }
    }

    // A store in ALC2 with a load in ALC3, or a load in ALC0 with a store in ALC5, is illegal
    // (the suite's decode/store-load-group-2/3 trap on hardware, group-1's other mixes run),
    // although MCST's assembler encodes such bundles (ISA notes §1.9 ldd,0 + std,5).
    void checkGroups() {
        auto is = [&](unsigned ch, bool store) {
            const DecodedOp* op = opForChannel(ch);
            if (!op || !op->info)
                return false;
            return store ? op->kind == OpKind::Store || op->kind == OpKind::Staa
                         : op->kind == OpKind::Load || op->kind == OpKind::Ldaa;
        };
        if (is(2, true) && is(3, false))
            illegal("a store in ALC2 with a load in ALC3", 0x0C);
        if (is(0, false) && is(5, true))
            illegal("a load in ALC0 with a store in ALC5", 0x21);
    }
};

} // namespace

void decodeBundle(const RawBundle& raw, uint64_t ip, DecodedBundle& out) {
    out = DecodedBundle{};
    out.ip = ip;
    Decoder d{raw, out};
    d.run();
}

} // namespace e2kvm::emu

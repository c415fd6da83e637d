#include "emu/cpu/FastPlan.h"

namespace e2kvm::emu {

namespace {

enum class OpClass { General, Pure, Early };

FastCode withWidth(FastCode d, bool wide) {
    return wide ? d : FastCode(unsigned(d) + kFastSForm);
}

bool plainLoad(const DecodedOp& op) {
    return op.info->memSize == 8 && op.mas == 0 && !op.sm;
}

// Picks the fast code of one op; General = only the general path can run it. deviceLoads:
// the bundle has a load that may reach a device, so plain loads keep channel order too.
OpClass classify(const DecodedBundle& b, const DecodedOp& op, bool deviceLoads, FastCode& code) {
    const bool wide = op.info->dstWide;
    switch (op.kind) {
    case OpKind::And:
        code = withWidth(FastCode::AndD, wide);
        return OpClass::Pure;
    case OpKind::Andn:
        code = withWidth(FastCode::AndnD, wide);
        return OpClass::Pure;
    case OpKind::Or:
        code = withWidth(FastCode::OrD, wide);
        return OpClass::Pure;
    case OpKind::Orn:
        code = withWidth(FastCode::OrnD, wide);
        return OpClass::Pure;
    case OpKind::Xor:
        code = withWidth(FastCode::XorD, wide);
        return OpClass::Pure;
    case OpKind::Xorn:
        code = withWidth(FastCode::XornD, wide);
        return OpClass::Pure;
    case OpKind::Add:
        code = withWidth(FastCode::AddD, wide);
        return OpClass::Pure;
    case OpKind::Sub:
        code = withWidth(FastCode::SubD, wide);
        return OpClass::Pure;
    case OpKind::Shl:
        code = withWidth(FastCode::ShlD, wide);
        return OpClass::Pure;
    case OpKind::Shr:
        code = withWidth(FastCode::ShrD, wide);
        return OpClass::Pure;
    case OpKind::Sar:
        code = withWidth(FastCode::SarD, wide);
        return OpClass::Pure;
    case OpKind::Cmp:
        code = FastCode(unsigned(op.info->src1Wide ? FastCode::CmpOD : FastCode::CmpOS) +
                        (op.info->cmpop & 7));
        return OpClass::Pure;
    case OpKind::CmpAnd:
        code = FastCode::CmpAnd;
        return OpClass::Pure;
    case OpKind::Scl:
    case OpKind::Scr:
    case OpKind::Sxt:
    case OpKind::Merge:
    case OpKind::Getf:
    case OpKind::Insf:
    case OpKind::Mul:
    case OpKind::UMulX:
    case OpKind::SMulX:
    case OpKind::UMulHd:
    case OpKind::SMulHd:
    case OpKind::Mov:
    case OpKind::Bitrev:
    case OpKind::Lzcnt:
    case OpKind::Popcnt:
        code = FastCode::Pure;
        return OpClass::Pure;
    case OpKind::Load:
        if ((op.mas & 7) == 3 || (op.mas & 7) == 4) // DAM lock/check: general path
            return OpClass::General;
        // A plain 8-byte load runs in place once its address is checked (see FastBundle).
        if (plainLoad(op)) {
            code = FastCode::LoadD;
            return deviceLoads ? OpClass::Early : OpClass::Pure;
        }
        code = FastCode::Slow;
        return OpClass::Early;
    case OpKind::Store:
        if (b.loopMode) // prologue stores are dropped: general path
            return OpClass::General;
        code = op.info->memSize == 8 && op.mas == 0 && op.src3.type == OperandType::Direct
                   ? FastCode::StoreD
                   : FastCode::Store;
        return OpClass::Early;
    case OpKind::UDiv:
    case OpKind::SDiv:
    case OpKind::UDivX:
    case OpKind::UModX:
    case OpKind::SDivX:
    case OpKind::SModX:
        code = FastCode::Slow;
        return OpClass::Early;
    case OpKind::Getsp: // stack pointer, state registers, protected mode: general path
    case OpKind::Rw:
    case OpKind::Rr:
    case OpKind::Getpl:
    case OpKind::GetTag: // tags, 80-bit values: general path
    case OpKind::PutTag:
    case OpKind::MovIf:
    case OpKind::MovFi:
    case OpKind::FxAdd:
    case OpKind::FxSub:
    case OpKind::FxMul:
    case OpKind::Staa: // array access unit: general path
    case OpKind::Ldaa:
        return OpClass::General;
    }
    return OpClass::General;
}

uint8_t condByte(const PredCond& c) {
    return uint8_t(kFastCondOn | (c.neg ? kFastCondNeg : 0) |
                   (c.kind == PredCond::Pcnt ? kFastCondPcnt : 0) | (c.index & 0x1F));
}

// Register (0..255) or predicate (256 + index) an op writes; -1 for none.
int writeKey(const DecodedOp& op) {
    if (op.dstType == DstType::Direct)
        return op.dst;
    if (op.dstType == DstType::Pred)
        return 256 + op.dst;
    return -1;
}

bool readsReg(const DecodedOp& op, int key) {
    auto is = [key](const Operand& o) { return o.type == OperandType::Direct && o.index == key; };
    return key < 256 && (is(op.src1) || is(op.src2) || is(op.src3));
}

} // namespace

void planFastPath(DecodedBundle& b, uint64_t* regs, uint64_t* sink) {
    FastBundle& f = b.fast;
    f = FastBundle{};
    if (b.illegal || b.setbn || b.setbp || b.nPls || b.alc || b.abn || b.abp || b.waitTrap ||
        b.needBased || b.aau)
        return;
    switch (b.cs0) {
    case Cs0Kind::None:
    case Cs0Kind::Nop:
    case Cs0Kind::Ibranch:
        break;
    case Cs0Kind::Disp:
    case Cs0Kind::Sdisp:
    case Cs0Kind::Return:
        f.cs0WritesCtpr = true;
        break;
    case Cs0Kind::Done:
    case Cs0Kind::Ldisp:
        return;
    }
    // Without a target the condition decides nothing (no alc/abn/abp here).
    if (b.cs0 == Cs0Kind::Ibranch || b.ctop) {
        const unsigned type = b.ctcond >> 5;
        if (type > 3)
            return;
        f.ctMode = uint8_t(type == 0 ? 0 : type);
        f.ctPred = b.ctcond & 0x1F;
    }

    bool deviceLoads = false;
    for (unsigned i = 0; i < b.nOps; ++i)
        if (b.ops[i].info && b.ops[i].kind == OpKind::Load && !plainLoad(b.ops[i]))
            deviceLoads = true;
    FastOp early[6], pure[6];
    const DecodedOp* pureSrc[6];
    unsigned nEarly = 0, nPure = 0, nStores = 0;
    for (unsigned i = 0; i < b.nOps; ++i) {
        const DecodedOp& op = b.ops[i];
        if (!op.info || op.nConds > 1 || !op.p1 || !op.p2)
            return;
        if (op.dstType == DstType::Based || op.dstType == DstType::Ctpr ||
            op.dstType == DstType::State)
            return;
        FastOp fo;
        const OpClass cls = classify(b, op, deviceLoads, fo.code);
        if (cls == OpClass::General)
            return;
        fo.p1 = op.p1;
        fo.p2 = op.p2;
        fo.dst = op.pdst ? op.pdst : sink;
        fo.op = uint8_t(i);
        fo.cond = op.nConds ? condByte(op.conds[0]) : 0;
        fo.pred = op.dstType == DstType::Pred ? op.dst : 0;
        fo.cmp = uint8_t((op.info->cmpop & 7) | (op.info->src1Wide ? kFastCmpWide : 0));
        fo.write64 = op.write64;
        if (fo.code == FastCode::StoreD)
            fo.dst = regs + op.src3.index; // never written: the stored register
        if ((fo.code == FastCode::Store || fo.code == FastCode::StoreD) && ++nStores > 2)
            return; // the commit holds two stores (ALC2 and ALC5 are the only store channels)
        if (cls == OpClass::Early) {
            early[nEarly++] = fo;
        } else {
            pureSrc[nPure] = &op;
            pure[nPure++] = fo;
        }
    }

    // Order the in-place ops: a reader of a register before its writers, writers of one
    // register (or predicate) in channel order. Deferred (early) results land last, so an
    // in-place op may not write what a lower-channel early op writes.
    bool inPlace = true;
    for (unsigned p = 0; p < nPure && inPlace; ++p) {
        const int key = writeKey(*pureSrc[p]);
        for (unsigned e = 0; e < nEarly && key >= 0; ++e)
            if (writeKey(b.ops[early[e].op]) == key && early[e].op < pure[p].op)
                inPlace = false;
    }
    unsigned order[6], nOrdered = 0;
    if (inPlace) {
        bool before[6][6] = {}; // before[i][j]: pure op i must run before j
        for (unsigned i = 0; i < nPure; ++i)
            for (unsigned j = 0; j < nPure; ++j) {
                if (i == j)
                    continue;
                const int wj = writeKey(*pureSrc[j]);
                if (wj >= 0 && readsReg(*pureSrc[i], wj))
                    before[i][j] = true;
                if (i < j && wj >= 0 && writeKey(*pureSrc[i]) == wj)
                    before[i][j] = true;
            }
        bool placed[6] = {};
        while (nOrdered < nPure) {
            unsigned pick = nPure;
            for (unsigned j = 0; j < nPure && pick == nPure; ++j) {
                if (placed[j])
                    continue;
                bool ready = true;
                for (unsigned i = 0; i < nPure; ++i)
                    if (!placed[i] && before[i][j])
                        ready = false;
                if (ready)
                    pick = j;
            }
            if (pick == nPure) { // cycle (e.g. a swap): no in-place order
                inPlace = false;
                break;
            }
            placed[pick] = true;
            order[nOrdered++] = pick;
        }
    }
    if (inPlace) {
        for (unsigned e = 0; e < nEarly; ++e)
            f.ops[f.nOps++] = early[e];
        for (unsigned k = 0; k < nPure; ++k) {
            if (pure[order[k]].code == FastCode::LoadD)
                f.checkLoads |= uint8_t(1u << f.nOps);
            f.conds |= pure[order[k]].cond != 0;
            f.ops[f.nOps++] = pure[order[k]];
        }
        f.nEarly = uint8_t(nEarly);
    } else { // everything deferred, in channel order
        unsigned e = 0, p = 0;
        while (e < nEarly || p < nPure) {
            if (p == nPure || (e < nEarly && early[e].op < pure[p].op))
                f.ops[f.nOps++] = early[e++];
            else
                f.ops[f.nOps++] = pure[p++];
        }
        f.nEarly = f.nOps;
    }
    f.rare = b.setwd || b.call;
    f.usable = true;
}

} // namespace e2kvm::emu

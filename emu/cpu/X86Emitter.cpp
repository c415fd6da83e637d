#include "emu/cpu/X86Emitter.h"

namespace e2kvm::emu::x86 {

bool displacement(const void* p, const void* base, int32_t& disp) {
    const int64_t d =
        int64_t(reinterpret_cast<uintptr_t>(p)) - int64_t(reinterpret_cast<uintptr_t>(base));
    if (d < INT32_MIN || d > INT32_MAX)
        return false;
    disp = int32_t(d);
    return true;
}

Source source(const uint64_t* p, const uint64_t* regs) {
    Source s;
    const auto at = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(regs);
    if (at >= base && at < base + 256 * sizeof(uint64_t)) {
        s.slot = true;
        s.disp = int32_t(at - base);
    } else {
        s.value = *p;
    }
    return s;
}

namespace {

// ALU op on rax, rcx: the opcode of "op r/m, r" and whether rcx is inverted first.
bool aluOpcode(FastCode c, uint8_t& opcode, bool& invert, bool& shift, uint8_t& shiftExt) {
    const unsigned d = c <= FastCode::SarD ? unsigned(c) : unsigned(c) - kFastSForm;
    invert = shift = false;
    switch (FastCode(d)) {
    case FastCode::AndD:
        opcode = 0x21;
        return true;
    case FastCode::AndnD:
        opcode = 0x21, invert = true;
        return true;
    case FastCode::OrD:
        opcode = 0x09;
        return true;
    case FastCode::OrnD:
        opcode = 0x09, invert = true;
        return true;
    case FastCode::XorD:
        opcode = 0x31;
        return true;
    case FastCode::XornD:
        opcode = 0x31, invert = true;
        return true;
    case FastCode::AddD:
        opcode = 0x01;
        return true;
    case FastCode::SubD:
        opcode = 0x29;
        return true;
    case FastCode::ShlD:
        shift = true, shiftExt = 4;
        return true;
    case FastCode::ShrD:
        shift = true, shiftExt = 5;
        return true;
    case FastCode::SarD:
        shift = true, shiftExt = 7;
        return true;
    default:
        return false;
    }
}

// setcc opcode (second byte) for a compare's cmpop after "cmp a, b" (ISA notes §3.5).
const uint8_t kSetcc[8] = {
    0x90, // 0: signed overflow of a - b (seto)
    0x92, // 1: a < b unsigned (setb)
    0x94, // 2: a == b (sete)
    0x96, // 3: a <= b unsigned (setbe)
    0x98, // 4: a - b negative (sets)
    0x9A, // 5: even parity of the low byte of a - b (setp)
    0x9C, // 6: a < b signed (setl)
    0x9E, // 7: a <= b signed (setle)
};

// A FastCode::Pure op whose result computeOp gives as one of a few host instructions on rax
// (src1) and rcx (src2): the result in rax (a 32-bit result zero-extended).
bool emitPureOp(Emitter& e, const DecodedOp& d) {
    const bool wide = d.info->dstWide;
    switch (d.kind) {
    case OpKind::Mul: // muld: the low 64 bits; muls: the low 32
        if (wide)
            e.bytes({0x48});
        e.bytes({0x0F, 0xAF, 0xC1}); // imul rax|eax, rcx|ecx
        return true;
    case OpKind::UMulX:                    // 32 x 32 -> 64, unsigned
        e.bytes({0x89, 0xC0, 0x89, 0xC9}); // mov eax, eax; mov ecx, ecx
        e.bytes({0x48, 0x0F, 0xAF, 0xC1}); // imul rax, rcx
        return true;
    case OpKind::SMulX:                                // 32 x 32 -> 64, signed
        e.bytes({0x48, 0x63, 0xC0, 0x48, 0x63, 0xC9}); // movsxd rax, eax; movsxd rcx, ecx
        e.bytes({0x48, 0x0F, 0xAF, 0xC1});             // imul rax, rcx
        return true;
    case OpKind::Scl:
    case OpKind::Scr: // rotates, the count masked to the width (as the host does)
        if (wide)
            e.bytes({0x48});
        e.bytes({0xD3, uint8_t(d.kind == OpKind::Scl ? 0xC0 : 0xC8)}); // rol|ror rax|eax, cl
        return true;
    case OpKind::Mov:
        e.bytes({0x48, 0x89, 0xC8}); // mov rax, rcx
        return true;
    default:
        return false;
    }
}

} // namespace

bool emitInPlaceOp(Emitter& e, const FastOp& op, const DecodedOp& d, const uint64_t* regs) {
    const Source a = source(op.p1, regs), b = source(op.p2, regs);
    int32_t dst = 0;
    if (op.code == FastCode::Pure) {
        if (!d.info || !displacement(op.dst, regs, dst))
            return false;
        Emitter trial; // (nothing is appended when the op has no translation)
        if (!emitPureOp(trial, d))
            return false;
        e.load(0, a);
        e.load(1, b);
        emitPureOp(e, d);
        if (op.write64) {
            e.storeRax64(dst);
        } else {
            e.bytes({0x89, 0xC0}); // mov eax, eax (a 64-bit result's low half, e.g. movs)
            e.storeLow(dst);
        }
        return true;
    }
    if (op.code <= FastCode::SarS) {
        if (!displacement(op.dst, regs, dst))
            return false;
        uint8_t opcode = 0, ext = 0;
        bool invert = false, shift = false;
        if (!aluOpcode(op.code, opcode, invert, shift, ext))
            return false;
        const bool wide = op.code <= FastCode::SarD;
        const uint8_t rexW = wide ? 0x48 : 0x00;
        e.load(0, a);
        e.load(1, b);
        auto withRex = [&](std::initializer_list<uint8_t> rest) {
            if (rexW)
                e.bytes({rexW});
            e.bytes(rest);
        };
        if (invert)
            withRex({0xF7, 0xD1}); // not rcx|ecx
        if (shift)
            withRex({0xD3, uint8_t(0xC0 | (ext << 3))}); // shl|shr|sar rax|eax, cl
        else
            withRex({opcode, 0xC8}); // op rax|eax, rcx|ecx
        if (wide)
            e.storeRax64(dst);
        else
            e.storeLow(dst);
        return true;
    }
    if (op.code >= FastCode::CmpOD && op.code <= FastCode::CmpLES) {
        if (op.pred > 31)
            return false;
        const unsigned i = unsigned(op.code) - unsigned(FastCode::CmpOD);
        const bool wide = i < 8;
        e.load(0, a);
        e.load(1, b);
        if (wide)
            e.bytes({0x48});
        e.bytes({0x39, 0xC8});                         // cmp rax|eax, rcx|ecx
        e.bytes({0x41, 0x0F, kSetcc[i & 7], 0xC1});    // setcc r9b
        e.bytes({0x45, 0x0F, 0xB6, 0xC9});             // movzx r9d, r9b
        e.bytes({0x41, 0xC1, 0xE1, uint8_t(op.pred)}); // shl r9d, pred
        e.bytes({0x41, 0x81, 0xE0});                   // and r8d, ~(1 << pred): a later
        e.u32(~(1u << op.pred));                       // compare of one predicate wins
        e.bytes({0x45, 0x09, 0xC8});                   // or r8d, r9d
        return true;
    }
    if (op.code == FastCode::LoadD) {
        if (!displacement(op.dst, regs, dst))
            return false;
        e.load(0, a);
        e.addToRax(b);
        e.bytes({0x48, 0x8B, 0x04, 0x06}); // mov rax, [rsi + rax]
        e.storeRax64(dst);
        return true;
    }
    return false; // CmpAnd, Pure and the first-phase codes stay on the interpreter
}

} // namespace e2kvm::emu::x86

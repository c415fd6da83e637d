#include "emu/cpu/BundleJit.h"

#include "emu/cpu/X86Emitter.h"

#include <vector>

#if defined(__x86_64__) && defined(__linux__)
#define E2KVM_BUNDLE_JIT 1
#endif

namespace e2kvm::emu {

namespace {

using namespace x86;

constexpr uint64_t kAddr48 = (uint64_t(1) << 48) - 1;
constexpr uint64_t kCtprLocalTag = 3; // CTPR tag of a disp label (bits 56:54)
constexpr uint64_t kCtprLdispOpc = 1; // ... whose opc (bits 58:57) 1 marks a prefetch program

// Displacements of the CPU state from the register slots (rdi).
struct StateAt {
    int32_t preds, wdSize, pcur, dbl, pcnt, ctpr, ip, bundles, ops, ramLow, ramSpan, irq, scratch;
};

bool stateAt(const BundleJitLayout& L, StateAt& d) {
    const void* r = L.regs;
    int32_t lastCtpr = 0;
    return displacement(L.preds, r, d.preds) && displacement(L.wdSize, r, d.wdSize) &&
           displacement(L.pcur, r, d.pcur) && displacement(L.dbl, r, d.dbl) &&
           displacement(L.pcnt, r, d.pcnt) && displacement(L.ctpr, r, d.ctpr) &&
           displacement(L.ip, r, d.ip) && displacement(L.bundles, r, d.bundles) &&
           displacement(L.ops, r, d.ops) && displacement(L.ramLow, r, d.ramLow) &&
           displacement(L.ramSpan, r, d.ramSpan) && displacement(L.irqLine, r, d.irq) &&
           displacement(L.ctpr + 3, r, lastCtpr) && // (the whole array within reach)
           displacement(L.scratch, r, d.scratch);
}

bool isCompare(FastCode c) {
    return c >= FastCode::CmpOD && c <= FastCode::CmpLES;
}

// What the first phase of a translated bundle does with a first-phase op.
struct Early {
    enum Kind : uint8_t { None, Store, Load, Alu } kind = None;
    uint8_t size = 0;  // Store, Load: bytes
    int32_t value = 0; // Store: where the stored register is, from regs
};

Early earlyKind(const DecodedBundle& b, const FastOp& op, const uint64_t* regs) {
    Early r;
    const DecodedOp& d = b.ops[op.op];
    const unsigned size = d.info ? d.info->memSize : 0;
    const bool plainSize = size == 1 || size == 2 || size == 4 || size == 8;
    if (op.code == FastCode::StoreD || op.code == FastCode::Store) {
        if (d.kind != OpKind::Store || d.mas || !plainSize || d.src3.type != OperandType::Direct ||
            !displacement(regs + d.src3.index, regs, r.value))
            return r;
        r.kind = Early::Store;
        r.size = uint8_t(size);
    } else if (op.code == FastCode::LoadD || op.code == FastCode::Slow) {
        if (d.kind != OpKind::Load || d.mas || d.sm || !plainSize)
            return r; // divisions; loads that may reach a device, swap bytes or speculate
        r.kind = Early::Load;
        r.size = uint8_t(size);
    } else if (op.code <= FastCode::SarS) {
        r.kind = Early::Alu; // (a bundle without an in-place order defers all its ops)
    }
    return r;
}

// Registers of the translated code: rdi = regs, rsi = guest RAM, rbx = bundles left,
// rbp = link table, r10 = the exit stub, r11d = the predicates as the bundle starts,
// r8d = the predicates as it leaves them, edx = dbl, r12/r13 and r14/r15 = address and value
// of the first and second store; rax, rcx, r9 scratch.
class BundleEmitter {
public:
    BundleEmitter(Emitter& e, const StateAt& at) : e_(e), at_(at) {}

    // op [rdi + disp32] with a ModRM reg field `reg` (opcode bytes first).
    void mem(std::initializer_list<uint8_t> opcode, unsigned reg, int32_t disp) {
        e_.bytes(opcode);
        e_.bytes({uint8_t(0x87 | ((reg & 7) << 3))});
        e_.u32(uint32_t(disp));
    }
    void bailIf(uint8_t cc) { bails_.push_back(e_.jumpForward(cc)); }

    // Starts code that runs only when condition byte `cond` (kFastCondOn...) holds for the
    // predicates in r11d (unrotated: the caller checked pcur == 0) or %pcnt; patchSkip ends it.
    size_t skipUnless(uint8_t cond) {
        const unsigned n = cond & 0x1F;
        const bool neg = cond & kFastCondNeg;
        if (cond & kFastCondPcnt) {   // holds when pcnt <= n
            mem({0x80}, 7, at_.pcnt); // cmp byte [rdi + pcnt], n
            e_.bytes({uint8_t(n)});
            return e_.jumpForward(neg ? kJbe : kJa);
        }
        e_.bytes({0x41, 0xF7, 0xC3}); // test r11d, 1 << n
        e_.u32(1u << n);
        return e_.jumpForward(neg ? kJne : kJe);
    }

    // rax = the address operands of `op` as the bundle starts; bails out unless it is aligned
    // to `size` and in RAM (conservatively: [ramLow, ramLow + ramSpan + 8) - 8 bytes) and, with
    // codeToo, on a page without decoded code (r9 = the code-page marks).
    void checkAddress(const FastOp& op, const uint64_t* regs, unsigned size, bool codeToo) {
        checkAddress(source(op.p1, regs), source(op.p2, regs), size, codeToo);
    }
    void checkAddress(const Source& a, const Source& b, unsigned size, bool codeToo) {
        e_.load(0, a);
        e_.addToRax(b);
        if (size > 1) {
            e_.bytes({0xA8, uint8_t(size - 1)}); // test al, size - 1
            bailIf(kJne);
        }
        e_.bytes({0x48, 0x89, 0xC1});      // mov rcx, rax
        mem({0x48, 0x2B}, 1, at_.ramLow);  // sub rcx, [ramLow]
        mem({0x48, 0x3B}, 1, at_.ramSpan); // cmp rcx, [ramSpan]
        bailIf(kJa);
        if (codeToo) {
            e_.bytes({0x48, 0x89, 0xC1});             // mov rcx, rax
            e_.bytes({0x48, 0xC1, 0xE9, 0x0C});       // shr rcx, 12
            e_.bytes({0x41, 0x80, 0x3C, 0x09, 0x00}); // cmp byte [r9 + rcx], 0
            bailIf(kJne);
        }
    }

    // The exit stub every bail-out and the end of the run reach.
    void finish() {
        for (const size_t at : bails_)
            e_.patchSkip(at);
        e_.bytes({0x41, 0xFF, 0xE2}); // jmp r10
    }

private:
    Emitter& e_;
    const StateAt& at_;
    std::vector<size_t> bails_;
};

} // namespace

const void* BundleJit::compile(const DecodedBundle& b, const BundleJitLayout& L) {
#ifdef E2KVM_BUNDLE_JIT
    const FastBundle& f = b.fast;
    if (!f.usable || f.rare)
        return nullptr;
    switch (b.cs0) {
    case Cs0Kind::None:
    case Cs0Kind::Nop:
    case Cs0Kind::Ibranch:
    case Cs0Kind::Disp:
        break;
    default:
        return nullptr;
    }
    StateAt at;
    if (!stateAt(L, at))
        return nullptr;
    bool usesPreds = f.ctMode >= 2, writesPreds = false, narrow = false;
    unsigned nStores = 0;
    Early early[6] = {};
    for (unsigned k = 0; k < f.nEarly; ++k) {
        early[k] = earlyKind(b, f.ops[k], L.regs);
        if (early[k].kind == Early::None)
            return nullptr;
        if (early[k].kind == Early::Store)
            ++nStores;
        else if (!f.ops[k].write64)
            narrow = true; // its deferred result is written by dbl
    }
    for (unsigned k = 0; k < f.nOps; ++k) {
        const FastOp& op = f.ops[k];
        if (op.cond && !(op.cond & kFastCondPcnt))
            usesPreds = true;
        if (isCompare(op.code))
            usesPreds = writesPreds = true;
        if ((op.code >= FastCode::AndS && op.code <= FastCode::SarS) ||
            (op.code == FastCode::Pure && !op.write64))
            narrow = true; // its result is written by dbl
    }
    if (nStores > 2 || b.needWindow > 127)
        return nullptr;
    if (!enter_ && !installEntry())
        return nullptr;

    const uint64_t* regs = L.regs;
    Emitter e;
    BundleEmitter be(e, at);
    // ---- checks: nothing is written before they pass ----
    if (b.needWindow) {
        be.mem({0x83}, 7, at.wdSize); // cmp dword [rdi + wdSize], needWindow
        e.bytes({b.needWindow});
        be.bailIf(kJb);
    }
    if (usesPreds) {
        be.mem({0x83}, 7, at.pcur); // cmp dword [rdi + pcur], 0
        e.bytes({0});
        be.bailIf(kJne);
    }
    be.mem({0x44, 0x8B}, 3, at.preds); // mov r11d, [rdi + preds]
    if (narrow)
        be.mem({0x0F, 0xB6}, 2, at.dbl); // movzx edx, byte [rdi + dbl]
    // Every in-place load, enabled or not. Loads from one register plus offsets 8 apart (an
    // unrolled loop's) need only the lowest and highest address checked.
    struct LoadGroup {
        int32_t base;
        int64_t low, high;
    };
    LoadGroup groups[6];
    unsigned nGroups = 0;
    for (unsigned k = f.nEarly; k < f.nOps; ++k) {
        if (f.ops[k].code != FastCode::LoadD)
            continue;
        const Source base = source(f.ops[k].p1, regs), offset = source(f.ops[k].p2, regs);
        const int64_t off = int64_t(offset.value);
        if (!base.slot || offset.slot || off != int64_t(int32_t(off))) {
            be.checkAddress(base, offset, 8, false);
            continue;
        }
        unsigned g = 0;
        while (g < nGroups && (groups[g].base != base.disp || (off - groups[g].low) % 8))
            ++g;
        if (g == nGroups)
            groups[nGroups++] = {base.disp, off, off};
        groups[g].low = off < groups[g].low ? off : groups[g].low;
        groups[g].high = off > groups[g].high ? off : groups[g].high;
    }
    for (unsigned g = 0; g < nGroups; ++g) {
        Source base, low, high;
        base.slot = true;
        base.disp = groups[g].base;
        low.value = uint64_t(groups[g].low);
        high.value = uint64_t(groups[g].high);
        be.checkAddress(base, low, 8, false); // (then the others are aligned too)
        if (groups[g].high != groups[g].low)
            be.checkAddress(base, high, 1, false);
    }
    if (nStores) {
        e.bytes({0x49, 0xB9}); // movabs r9, codePages
        e.u64(uint64_t(reinterpret_cast<uintptr_t>(L.codePages)));
    }
    // The first phase, in channel order: store addresses and values into r12..r15, load and
    // ALU results into the scratch words (written to their registers at the commit).
    for (unsigned k = 0, s = 0; k < f.nEarly; ++k) {
        const FastOp& op = f.ops[k];
        const size_t skip = op.cond ? be.skipUnless(op.cond) : 0;
        const int32_t scratch = at.scratch + int32_t(8 * k);
        switch (early[k].kind) {
        case Early::Store:
            be.checkAddress(op, regs, early[k].size, true);
            if (s++ == 0) {
                e.bytes({0x49, 0x89, 0xC4});             // mov r12, rax
                be.mem({0x4C, 0x8B}, 5, early[k].value); // mov r13, [rdi + value]
            } else {
                e.bytes({0x49, 0x89, 0xC6});             // mov r14, rax
                be.mem({0x4C, 0x8B}, 7, early[k].value); // mov r15, [rdi + value]
            }
            break;
        case Early::Load:
            be.checkAddress(op, regs, early[k].size, false);
            switch (early[k].size) { // zero-extended into rax
            case 8:
                e.bytes({0x48, 0x8B, 0x04, 0x06}); // mov rax, [rsi + rax]
                break;
            case 4:
                e.bytes({0x8B, 0x04, 0x06}); // mov eax, [rsi + rax]
                break;
            case 2:
                e.bytes({0x0F, 0xB7, 0x04, 0x06}); // movzx eax, word [rsi + rax]
                break;
            default:
                e.bytes({0x0F, 0xB6, 0x04, 0x06}); // movzx eax, byte [rsi + rax]
                break;
            }
            e.storeRax64(scratch);
            break;
        case Early::Alu: {
            FastOp into = op;
            into.dst = L.scratch + k;
            if (!emitInPlaceOp(e, into, b.ops[op.op], regs))
                return nullptr;
            break;
        }
        case Early::None:
            break;
        }
        if (skip)
            e.patchSkip(skip);
    }
    // The transfer through a CTPR: it must hold a disp label (else the interpreter raises
    // the exception or makes the return).
    const bool viaCtpr = f.ctMode && b.cs0 != Cs0Kind::Ibranch;
    const bool knownCtpr = viaCtpr && b.cs0 == Cs0Kind::Disp && b.cs0Ctpr == b.ctop;
    if (viaCtpr && !knownCtpr && f.ctMode == 1 &&
        ((L.ctpr[b.ctop] >> 54) & 0x1F) != kCtprLocalTag) // (local tag, opc 0)
        return nullptr; // e.g. `ct %ctpr3` after `return`: it would bail out every time
    auto skipUnlessTaken = [&]() -> size_t {
        if (f.ctMode == 1)
            return 0;
        e.bytes({0x41, 0xF7, 0xC3}); // test r11d, 1 << ctPred
        e.u32(1u << f.ctPred);
        return e.jumpForward(f.ctMode == 2 ? kJe : kJne);
    };
    const int32_t ctprAt = at.ctpr + 8 * b.ctop;
    if (viaCtpr && !knownCtpr) {
        const size_t skip = skipUnlessTaken();
        be.mem({0x48, 0x8B}, 0, ctprAt); // mov rax, [rdi + ctpr]
        // The CTPR as it is now, when a disp label (the loop's, usually), passes at once.
        const uint64_t now = L.ctpr[b.ctop];
        size_t valid = 0;
        if (((now >> 54) & 7) == kCtprLocalTag && ((now >> 57) & 3) != kCtprLdispOpc) {
            e.bytes({0x48, 0xB9}); // movabs rcx, now
            e.u64(now);
            e.bytes({0x48, 0x39, 0xC8}); // cmp rax, rcx
            valid = e.jumpForward(kJe);
        }
        e.bytes({0x48, 0x89, 0xC1});     // mov rcx, rax
        e.bytes({0x48, 0xC1, 0xE9, 54}); // shr rcx, 54
        e.bytes({0x83, 0xE1, 0x1F});     // and ecx, 0x1F (tag, opc)
        e.bytes({0x83, 0xF9, uint8_t(kCtprLocalTag | kCtprLdispOpc << 3)}); // ldisp label?
        be.bailIf(kJe);
        e.bytes({0x83, 0xE1, 0x07}); // and ecx, 7
        e.bytes({0x83, 0xF9, uint8_t(kCtprLocalTag)});
        be.bailIf(kJne);
        if (valid)
            e.patchSkip(valid);
        if (skip)
            e.patchSkip(skip);
    }

    // ---- the in-place ops ----
    e.bytes({0x45, 0x89, 0xD8}); // mov r8d, r11d
    for (unsigned k = f.nEarly; k < f.nOps; ++k) {
        const FastOp& op = f.ops[k];
        const size_t skip = op.cond ? be.skipUnless(op.cond) : 0;
        if (!emitInPlaceOp(e, op, b.ops[op.op], regs))
            return nullptr;
        if (skip)
            e.patchSkip(skip);
    }

    // ---- commit: CTPR, deferred results, predicates, memory, counters ----
    if (b.cs0 == Cs0Kind::Disp) {
        e.loadConstant(0, (b.cs0Value & kAddr48) | kCtprLocalTag << 54);
        be.mem({0x48, 0x89}, 0, at.ctpr + 8 * b.cs0Ctpr); // mov [rdi + ctpr], rax
    }
    for (unsigned k = 0; k < f.nEarly; ++k) {
        const FastOp& op = f.ops[k];
        if (early[k].kind == Early::Store)
            continue;
        int32_t dst = 0;
        if (!displacement(op.dst, regs, dst))
            return nullptr;
        const size_t skip = op.cond ? be.skipUnless(op.cond) : 0;
        be.mem({0x48, 0x8B}, 0, at.scratch + int32_t(8 * k)); // mov rax, [rdi + scratch]
        if (op.write64) {
            e.storeRax64(dst);
        } else {
            e.bytes({0x89, 0xC0}); // mov eax, eax
            e.storeLow(dst);
        }
        if (skip)
            e.patchSkip(skip);
    }
    if (writesPreds)
        be.mem({0x44, 0x89}, 0, at.preds); // mov [rdi + preds], r8d
    for (unsigned k = 0, s = 0; k < f.nEarly; ++k) {
        const FastOp& op = f.ops[k];
        if (early[k].kind != Early::Store)
            continue;
        const size_t skip = op.cond ? be.skipUnless(op.cond) : 0;
        // mov [rsi + r12], r13 (first store) or [rsi + r14], r15, of the store's size
        const uint8_t modrm = s++ == 0 ? 0x2C : 0x3C, sib = modrm == 0x2C ? 0x26 : 0x36;
        switch (early[k].size) {
        case 8:
            e.bytes({0x4E, 0x89, modrm, sib});
            break;
        case 4:
            e.bytes({0x46, 0x89, modrm, sib});
            break;
        case 2:
            e.bytes({0x66, 0x46, 0x89, modrm, sib});
            break;
        default:
            e.bytes({0x46, 0x88, modrm, sib});
            break;
        }
        if (skip)
            e.patchSkip(skip);
    }
    be.mem({0x48, 0x83}, 0, at.bundles); // add qword [rdi + bundles], 1
    e.bytes({1});
    be.mem({0x48, 0x83}, 0, at.ops); // add qword [rdi + ops], nOps
    e.bytes({b.nOps});

    // ---- the next IP (rax), then on to its translation ----
    const uint64_t fallThrough = b.ip + b.size;
    if (!f.ctMode) {
        e.loadConstant(0, fallThrough);
    } else {
        const size_t notTaken = skipUnlessTaken();
        if (b.cs0 == Cs0Kind::Ibranch) {
            e.loadConstant(0, b.cs0Value);
        } else if (knownCtpr) {
            e.loadConstant(0, b.cs0Value & kAddr48);
        } else {
            be.mem({0x48, 0x8B}, 0, ctprAt); // mov rax, [rdi + ctpr]
            e.bytes({0x48, 0xC1, 0xE0, 16}); // shl rax, 16
            e.bytes({0x48, 0xC1, 0xE8, 16}); // shr rax, 16
        }
        if (notTaken) {
            const size_t done = e.jumpForward();
            e.patchSkip(notTaken);
            e.loadConstant(0, fallThrough);
            e.patchSkip(done);
        }
    }
    be.mem({0x48, 0x89}, 0, at.ip); // mov [rdi + ip], rax
    e.bytes({0x48, 0xFF, 0xCB});    // dec rbx
    be.bailIf(kJe);                 // budget used up
    be.mem({0x80}, 7, at.irq);      // cmp byte [rdi + irqLine], 0
    e.bytes({0});
    be.bailIf(kJne);
    static_assert(kLinkTableSize == 4096 && sizeof(BundleLink) == 16);
    e.bytes({0x89, 0xC1});                         // mov ecx, eax
    e.bytes({0x81, 0xE1, 0xF8, 0x7F, 0x00, 0x00}); // and ecx, 0x7FF8: 8 * slot
    e.bytes({0x48, 0x39, 0x44, 0x4D, 0x00});       // cmp [rbp + 2 * rcx], rax
    be.bailIf(kJne);                               // the next bundle has no translation
    e.bytes({0xFF, 0x64, 0x4D, 0x08});             // jmp [rbp + 2 * rcx + 8]
    be.finish();
    return area_.install(e.code);
#else
    (void)b;
    (void)L;
    return nullptr;
#endif
}

bool BundleJit::installEntry() {
    Emitter e;
    e.bytes({0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57}); // push rbx .. r15
    e.bytes({0x48, 0x89, 0xD3});                                           // mov rbx, rdx (budget)
    e.bytes({0x48, 0x89, 0xCD});                                           // mov rbp, rcx (table)
    e.bytes({0x4C, 0x8D, 0x15});                                           // lea r10, [rip + exit]
    e.u32(3);
    e.bytes({0x41, 0xFF, 0xE0}); // jmp r8 (the first bundle)
    e.bytes({0x48, 0x89, 0xD8}); // exit: mov rax, rbx
    e.bytes({0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0x5B}); // pop r15 .. rbx
    e.bytes({0xC3});                                                       // ret
    const uint8_t* code = area_.install(e.code);
    if (!code)
        return false;
    enter_ = reinterpret_cast<Enter>(reinterpret_cast<uintptr_t>(code));
    return true;
}

uint64_t BundleJit::run(uint64_t* regs, const uint8_t* ram, uint64_t budget,
                        const BundleLink* table, const void* code) {
    return budget - enter_(regs, ram, budget, table, code);
}

} // namespace e2kvm::emu

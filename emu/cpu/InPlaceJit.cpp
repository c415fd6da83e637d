#include "emu/cpu/InPlaceJit.h"

#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define E2KVM_INPLACE_JIT 1
#endif

namespace e2kvm::emu {

namespace {

// Room for every slot of the decoded-bundle cache several times over; compile() refuses
// when it is full and the Cpu starts over after its next cache flush.
constexpr size_t kAreaSize = 4u << 20;
// Longest code one bundle can take: six ops of at most ~70 bytes, prologue and epilogue.
constexpr size_t kMaxBundleCode = 512;

#ifdef E2KVM_INPLACE_JIT

// Where an operand comes from: a register slot at regs + disp, or a constant.
struct Source {
    bool slot = false;
    int32_t disp = 0;
    uint64_t value = 0;
};

// Byte offset of p from regs when it fits a 32-bit displacement.
bool displacement(const uint64_t* p, const uint64_t* regs, int32_t& disp) {
    const int64_t d =
        int64_t(reinterpret_cast<uintptr_t>(p)) - int64_t(reinterpret_cast<uintptr_t>(regs));
    if (d < INT32_MIN || d > INT32_MAX)
        return false;
    disp = int32_t(d);
    return true;
}

// Operands are bound to a register slot (inside regs[0..256)) or to a value that never
// changes once decoded (an immediate in the DecodedBundle, or a shared zero).
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

// x86-64 encodings of the few instructions the translation uses. Registers: rdi = regs,
// rsi = ram, edx = dbl, r10d = enabled-ops mask; rax and rcx operands, r8d the compare bits,
// r9d a scratch.
class Emitter {
public:
    std::vector<uint8_t> code;

    void bytes(std::initializer_list<uint8_t> b) {
        for (const uint8_t v : b) // (vector::insert draws a GCC 12 -O3 false positive)
            code.push_back(v);
    }
    void u32(uint32_t v) {
        for (int i = 0; i < 4; ++i)
            code.push_back(uint8_t(v >> (8 * i)));
    }
    void u64(uint64_t v) {
        for (int i = 0; i < 8; ++i)
            code.push_back(uint8_t(v >> (8 * i)));
    }
    // mov rax|rcx, operand (reg: 0 = rax, 1 = rcx)
    void load(unsigned reg, const Source& s) {
        if (s.slot) {
            bytes({0x48, 0x8B, uint8_t(0x87 | (reg << 3))}); // mov r64, [rdi + disp32]
            u32(uint32_t(s.disp));
        } else if (s.value <= 0x7FFFFFFFu) {
            bytes({uint8_t(0xB8 + reg)}); // mov r32, imm32 (zero-extends)
            u32(uint32_t(s.value));
        } else {
            bytes({0x48, uint8_t(0xB8 + reg)}); // movabs r64, imm64
            u64(s.value);
        }
    }
    // add rax, operand
    void addToRax(const Source& s) {
        if (s.slot) {
            bytes({0x48, 0x03, 0x87}); // add rax, [rdi + disp32]
            u32(uint32_t(s.disp));
        } else if (int64_t(s.value) == int64_t(int32_t(uint32_t(s.value)))) {
            bytes({0x48, 0x05}); // add rax, simm32
            u32(uint32_t(s.value));
        } else {
            load(1, s);
            bytes({0x48, 0x01, 0xC8}); // add rax, rcx
        }
    }
    // jcc rel32 to a label placed later; returns where to patch.
    size_t jumpForward(uint8_t cc) {
        bytes({0x0F, cc});
        u32(0);
        return code.size();
    }
    void storeRax64(int32_t disp) { // mov [rdi + disp32], rax
        bytes({0x48, 0x89, 0x87});
        u32(uint32_t(disp));
    }
    void storeEax32(int32_t disp) { // mov [rdi + disp32], eax
        bytes({0x89, 0x87});
        u32(uint32_t(disp));
    }
    // A 32-bit result in eax (upper half of rax zero): the whole slot when dbl, else its
    // low half only.
    void storeLow(int32_t disp) {
        bytes({0x85, 0xD2}); // test edx, edx
        bytes({0x74, 0x09}); // jz to the 32-bit store (over 7 + 2 bytes)
        storeRax64(disp);
        bytes({0xEB, 0x06}); // jmp over the 6-byte 32-bit store
        storeEax32(disp);
    }
    // Starts code that runs only when bit k of r10d is set; patchSkip() ends it.
    size_t skipUnlessEnabled(unsigned k) {
        bytes({0x41, 0xF7, 0xC2}); // test r10d, imm32
        u32(1u << k);
        bytes({0x0F, 0x84}); // jz rel32 (patched)
        u32(0);
        return code.size();
    }
    void patchSkip(size_t after) {
        const uint32_t rel = uint32_t(code.size() - after);
        std::memcpy(code.data() + after - 4, &rel, 4);
    }
};

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

// Appends one op; false when it has no translation.
bool emitOp(Emitter& e, const FastOp& op, const uint64_t* regs, unsigned& nCmps, FastBundle& f,
            unsigned index) {
    const Source a = source(op.p1, regs), b = source(op.p2, regs);
    int32_t dst = 0;
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
        f.jitCmpOp[nCmps++] = uint8_t(index);
        f.jitPredMask |= 1u << op.pred;
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

// The load check of a bundle without predicated ops: every in-place load's address (the
// operands as the bundle starts) is 8-aligned and in [low, low + span]. Registers: rdi = regs,
// rsi = low, rdx = span.
void emitLoadCheck(Emitter& e, const FastBundle& f, const uint64_t* regs) {
    std::vector<size_t> fails;
    for (unsigned m = f.checkLoads; m; m &= m - 1) {
        const FastOp& op = f.ops[__builtin_ctz(m)];
        e.load(0, source(op.p1, regs));
        e.addToRax(source(op.p2, regs));
        e.bytes({0xA8, 0x07});                // test al, 7
        fails.push_back(e.jumpForward(0x85)); // jnz fail
        e.bytes({0x48, 0x29, 0xF0});          // sub rax, rsi
        e.bytes({0x48, 0x39, 0xD0});          // cmp rax, rdx
        fails.push_back(e.jumpForward(0x87)); // ja fail
    }
    e.bytes({0xB8, 1, 0, 0, 0}); // mov eax, 1
    e.bytes({0xC3});             // ret
    for (size_t at : fails)
        e.patchSkip(at);
    e.bytes({0x31, 0xC0}); // fail: xor eax, eax
    e.bytes({0xC3});       // ret
}

#endif

} // namespace

InPlaceJit::~InPlaceJit() {
#ifdef E2KVM_INPLACE_JIT
    if (write_)
        ::munmap(write_, size_);
    if (exec_)
        ::munmap(const_cast<uint8_t*>(exec_), size_);
#endif
}

bool InPlaceJit::map() {
#ifdef E2KVM_INPLACE_JIT
    if (mapFailed_)
        return false;
    mapFailed_ = true; // until it works
    const int fd = ::memfd_create("e2kvm-jit", MFD_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ::ftruncate(fd, off_t(kAreaSize)) == 0;
    void* w =
        ok ? ::mmap(nullptr, kAreaSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    void* x = w != MAP_FAILED ? ::mmap(nullptr, kAreaSize, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0)
                              : MAP_FAILED;
    ::close(fd);
    if (x == MAP_FAILED) {
        if (w != MAP_FAILED)
            ::munmap(w, kAreaSize);
        return false;
    }
    write_ = static_cast<uint8_t*>(w);
    exec_ = static_cast<const uint8_t*>(x);
    size_ = kAreaSize;
    mapFailed_ = false;
    return true;
#else
    return false;
#endif
}

bool InPlaceJit::hasRoom() const {
    return !write_ || used_ + kMaxBundleCode <= size_;
}

InPlaceCode InPlaceJit::compile(FastBundle& f, const uint64_t* regs) {
    f.nJitCmps = 0;
    f.jitPredMask = 0;
    f.jitLoadCheck = nullptr;
#ifdef E2KVM_INPLACE_JIT
    if (!f.usable || f.nEarly == f.nOps)
        return nullptr;
    Emitter e;
    e.bytes({0x45, 0x31, 0xC0}); // xor r8d, r8d
    if (f.conds)
        e.bytes({0x41, 0x89, 0xCA}); // mov r10d, ecx
    unsigned nCmps = 0;
    for (unsigned k = f.nEarly; k < f.nOps; ++k) {
        const FastOp& op = f.ops[k];
        const size_t skip = op.cond ? e.skipUnlessEnabled(k) : 0;
        if (op.pred > 31 || !emitOp(e, op, regs, nCmps, f, k)) {
            f.nJitCmps = 0;
            f.jitPredMask = 0;
            return nullptr;
        }
        if (skip)
            e.patchSkip(skip);
    }
    e.bytes({0x44, 0x89, 0xC0}); // mov eax, r8d
    e.bytes({0xC3});             // ret
    const size_t checkAt = (e.code.size() + 15) & ~size_t(15);
    const bool check = f.checkLoads && !f.conds;
    if (check) {
        e.code.resize(checkAt, 0xCC); // int3 padding
        emitLoadCheck(e, f, regs);
    }
    if (e.code.size() > kMaxBundleCode || (!write_ && !map()) || !hasRoom()) {
        f.nJitCmps = 0;
        f.jitPredMask = 0;
        return nullptr;
    }
    std::memcpy(write_ + used_, e.code.data(), e.code.size());
    const uint8_t* entry = exec_ + used_;
    used_ += (e.code.size() + 15) & ~size_t(15);
    f.nJitCmps = uint8_t(nCmps);
    if (check)
        f.jitLoadCheck =
            reinterpret_cast<InPlaceLoadCheck>(reinterpret_cast<uintptr_t>(entry + checkAt));
    return reinterpret_cast<InPlaceCode>(reinterpret_cast<uintptr_t>(entry));
#else
    (void)regs;
    return nullptr;
#endif
}

} // namespace e2kvm::emu

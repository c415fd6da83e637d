#pragma once
// X86Emitter: the x86-64 machine code of the interpreter's host-code translations (InPlaceJit,
// BundleJit): the few instruction encodings they use and the translation of one in-place op of
// a fast bundle. It only builds bytes, on any host; running them is x86-64 Linux only.
#include "emu/cpu/DecodedBundle.h"

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

namespace e2kvm::emu::x86 {

// Where an operand comes from: a register slot at regs + disp, or a constant.
struct Source {
    bool slot = false;
    int32_t disp = 0;
    uint64_t value = 0;
};

// Byte offset of p from base when it fits a 32-bit displacement.
bool displacement(const void* p, const void* base, int32_t& disp);

// Operands are bound to a register slot (inside regs[0..256)) or to a value that never
// changes once decoded (an immediate in the DecodedBundle, or a shared zero).
Source source(const uint64_t* p, const uint64_t* regs);

// Appends instructions to `code`. Memory operands are [rdi + disp32] (rdi = the register
// slots, other CPU state at fixed displacements from them).
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
    void loadConstant(unsigned reg, uint64_t v) {
        Source s;
        s.value = v;
        load(reg, s);
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
    // jcc rel32 to a label placed later; returns where to patch (patchSkip).
    size_t jumpForward(uint8_t cc) {
        bytes({0x0F, cc});
        u32(0);
        return code.size();
    }
    // jmp rel32 to a label placed later; returns where to patch (patchSkip).
    size_t jumpForward() {
        bytes({0xE9});
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
    // A 32-bit result in eax (upper half of rax zero): the whole slot when dbl (edx), else its
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
    // Points the rel32 that ends at `after` (jumpForward, skipUnlessEnabled) here.
    void patchSkip(size_t after) {
        const uint32_t rel = uint32_t(code.size() - after);
        std::memcpy(code.data() + after - 4, &rel, 4);
    }
};

// Condition codes for jumpForward.
enum : uint8_t {
    kJb = 0x82,
    kJe = 0x84,
    kJne = 0x85,
    kJbe = 0x86,
    kJa = 0x87,
};

// Appends one in-place op (FastCode AndD..SarS, CmpOD..CmpLES, LoadD, and Pure for muls, muld,
// umulx, smulx, scl*, scr*, mov*; `d` is the op the FastOp stands for): false when it has no
// translation. Registers: rdi = regs, rsi = guest RAM (load addresses already checked),
// edx = dbl; a compare into %pred<p> replaces bit p of r8d. Clobbers rax, rcx, r9.
bool emitInPlaceOp(Emitter& e, const FastOp& op, const DecodedOp& d, const uint64_t* regs);

} // namespace e2kvm::emu::x86

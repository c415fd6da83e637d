#pragma once
// InPlaceJit: owns the host-code area (a memfd mapped twice: writable and executable) and
// translates the in-place phase of a fast bundle (register ALU operations,
// compares and checked 8-byte loads, see FastPlan.h) into x86-64 machine code, so that the
// interpreter runs it as one call instead of one dispatch per operation. The code does exactly
// what Cpu::runInPlace does, in the same order; a bundle it cannot translate keeps running on
// the interpreter. Other hosts get no code (compile() always answers "not translated").
#include "emu/cpu/DecodedBundle.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace e2kvm::emu {

class InPlaceJit {
public:
    InPlaceJit() = default;
    ~InPlaceJit();
    InPlaceJit(const InPlaceJit&) = delete;
    InPlaceJit& operator=(const InPlaceJit&) = delete;

    // Translates the in-place ops of f = b.fast (f.ops[f.nEarly..f.nOps)) and records the
    // compares in f.jitCmpOp/f.nJitCmps. Null when an op has no translation, an operand lies
    // outside `regs`' reach, the code area is full (reset() makes room) or the host has no JIT.
    // `regs` must be where the Cpu's register slots stay for the code's lifetime.
    InPlaceCode compile(DecodedBundle& b, const uint64_t* regs);

    // Copies finished code (at most kMaxInstall bytes, position-independent) into the code
    // area: its executable address, or null when the area is full or the host has no JIT.
    static constexpr size_t kMaxInstall = 2048;
    const uint8_t* install(const std::vector<uint8_t>& code);

    // Whether the code area has room for one more bundle (compile() and an install()).
    bool hasRoom() const;
    // Forgets all code: only when no FastBundle refers to it any more.
    void reset() { used_ = 0; }

private:
    bool map();
    // The area is mapped twice: writable at write_, executable at exec_ (never both at once).
    uint8_t* write_ = nullptr;
    const uint8_t* exec_ = nullptr;
    size_t size_ = 0;
    size_t used_ = 0;
    bool mapFailed_ = false;
};

} // namespace e2kvm::emu

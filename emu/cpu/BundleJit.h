#pragma once
// BundleJit: translates a whole fast bundle (FastPlan.h) into host code: the checks that it can
// run without faulting, its in-place ops and stores, the predicate and CTPR commit, the bundle
// counters and the branch, after which the code jumps straight into the next bundle's
// translation (looked up in a table kept next to the decoded-bundle cache). A loop of such
// bundles runs without returning to the interpreter until the budget ends, an interrupt is
// raised, or a bundle has no translation or fails its checks (then it has changed nothing and
// the interpreter runs it). Code goes into InPlaceJit's area; other hosts get none.
#include "emu/cpu/DecodedBundle.h"
#include "emu/cpu/InPlaceJit.h"

#include <cstdint>

namespace e2kvm::emu {

// One entry of the link table: the translation of the bundle at `ip` (ip = all ones: none).
// The table is indexed like the decoded-bundle cache: (ip >> 3) & (kLinkTableSize - 1).
struct BundleLink {
    uint64_t ip = ~uint64_t(0);
    const void* code = nullptr;
};
constexpr unsigned kLinkTableSize = 4096;

// Where the translated code finds the CPU state (all within 2 GiB of `regs`, which it gets in
// rdi) and what it needs to know about guest memory.
struct BundleJitLayout {
    uint64_t* regs;
    uint32_t* preds;
    const unsigned* wdSize;
    const unsigned* pcur;
    const bool* dbl;
    const uint8_t* pcnt;
    uint64_t* ctpr;    // ctpr[0..3]
    uint64_t* ip;      // written after every bundle
    uint64_t* bundles; // counters, as executeFast keeps them
    uint64_t* ops;
    const uint64_t* ramLow; // RAM is [ramLow, ramLow + ramSpan + 8): kept current by the Cpu
    const uint64_t* ramSpan;
    const uint8_t* codePages; // GuestMemory's code-page marks (a store there bails out)
    const void* irqLine;      // a nonzero byte here ends the run after the current bundle
    uint64_t* scratch;        // six words: first-phase results until the commit
};

class BundleJit {
public:
    explicit BundleJit(InPlaceJit& area) : area_(area) {}

    // The translation of b, or null (the bundle stays on the interpreter's fast path). Needs
    // b.fast planned with the operands bound to L.regs. Translated: no setwd/call, cs0 none,
    // nop, ibranch or disp, in the first phase only plain (MAS 0, not speculative) loads and
    // stores of 1, 2, 4 or 8 bytes and register ALU ops, every in-place op one that InPlaceJit
    // translates. Accesses must be aligned to their size and in RAM, else the bundle bails out.
    const void* compile(const DecodedBundle& b, const BundleJitLayout& L);

    // Runs translations from `code` on, at most `budget` (>= 1) bundles; returns how many ran
    // (0: the first one bailed out, nothing changed). s_.ip, the counters, registers,
    // predicates and memory are as the interpreter would leave them after those bundles.
    uint64_t run(uint64_t* regs, const uint8_t* ram, uint64_t budget, const BundleLink* table,
                 const void* code);

    // After InPlaceJit::reset(): the entry stub is gone too.
    void reset() { enter_ = nullptr; }

private:
    bool installEntry();
    using Enter = uint64_t (*)(uint64_t* regs, const uint8_t* ram, uint64_t budget,
                               const BundleLink* table, const void* code);
    InPlaceJit& area_;
    Enter enter_ = nullptr;
};

} // namespace e2kvm::emu

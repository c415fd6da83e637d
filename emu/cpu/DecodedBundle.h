#pragma once
// DecodedBundle: one E2K bundle in the predecoded form the interpreter executes: operands
// resolved to register slots or immediate values, conditions and control fields unpacked.
// decodeBundle never fails: a reserved or unsupported encoding yields `illegal` set, which
// the interpreter turns into the guest's illegal-opcode exception when it reaches the bundle.
#include "emu/cpu/Bundle.h"
#include "emu/cpu/OpTable.h"

#include <cstdint>
#include <string>

namespace e2kvm::emu {

enum class OperandType : uint8_t { None, Direct, Based, Imm };

// Direct slots: window register %rN = slot N (0..63), global %gN = slot 224+N.
constexpr unsigned kGlobalBase = 224;

struct Operand {
    OperandType type = OperandType::None;
    uint8_t index = 0;
    uint64_t imm = 0;
};

enum class DstType : uint8_t { None, Direct, Based, Ctpr, Empty, Pred, State };

// A predicate reference: %predN (kind Pred) or %pcntN (kind Pcnt), optionally negated.
struct PredCond {
    enum Kind : uint8_t { Pred, Pcnt } kind = Pred;
    uint8_t index = 0;
    bool neg = false;
};

struct DecodedOp {
    const OpInfo* info = nullptr;
    OpKind kind = OpKind::Add;
    uint8_t channel = 0;
    bool sm = false;
    Operand src1, src2, src3;
    DstType dstType = DstType::None;
    uint8_t dst = 0; // slot, based index, ctpr number, predicate, state register
    uint8_t mas = 0;
    uint8_t nConds = 0; // RLP conditions (all must hold)
    PredCond conds[4];
    bool hasMrgc = false;
    PredCond mrgc;

    // Bound by the Cpu that caches the bundle: direct pointers to the operand values (a
    // register slot or `imm` above; nullptr for %b[] which depends on BR), the destination
    // slot (nullptr unless a window/global register), and the fused operation code.
    const uint64_t* p1 = nullptr;
    const uint64_t* p2 = nullptr;
    uint64_t* pdst = nullptr;
    uint8_t code = 0;
    bool write64 = false; // full 64-bit register write (else low half, upper kept unless dbl)
};

enum class Cs0Kind : uint8_t { None, Disp, Ldisp, Sdisp, Return, Ibranch, Done, Nop };

// A MOVA (array prefetch buffer read, AAS half-syllables): channel 0..3, opc 1..4 = movab..movad,
// the buffer area and byte index in it, am = advance the area after the read, be = big-endian.
struct DecodedMova {
    uint8_t channel = 0, opc = 0, area = 0, ind = 0;
    bool am = false, be = false;
    DstType dstType = DstType::None;
    uint8_t dst = 0;
};

struct DecodedPls {
    uint8_t elp[4];    // psrc of @p0..@p3
    bool elpUsed[4];   // ELP present (PLS0/1 exist)
    uint8_t clpOpc[3]; // 0 andp, 1 landp, 3 movep
    uint8_t p0[3], p1[3];
    bool neg0[3], neg1[3];
    bool vdst[3];
    uint8_t pdst[3];
};

// How the interpreter's fast path runs one operation (see FastPlan.h). The order matters:
// FastPlan derives codes arithmetically (S form = D form + kFastSForm, Cmp* + cmpop).
enum class FastCode : uint8_t {
    // 64-bit result, written whole
    AndD,
    AndnD,
    OrD,
    OrnD,
    XorD,
    XornD,
    AddD,
    SubD,
    ShlD,
    ShrD,
    SarD,
    // 32-bit result: the low half is written (upper half kept, or cleared in a dbl window)
    AndS,
    AndnS,
    OrS,
    OrnS,
    XorS,
    XornS,
    AddS,
    SubS,
    ShlS,
    ShrS,
    SarS,
    // compares into a predicate, by cmpop (ISA notes §3.5): 64-bit, then 32-bit operands
    CmpOD,
    CmpBD,
    CmpED,
    CmpBED,
    CmpSD,
    CmpPD,
    CmpLD,
    CmpLED,
    CmpOS,
    CmpBS,
    CmpES,
    CmpBES,
    CmpSS,
    CmpPS,
    CmpLS,
    CmpLES,
    CmpAnd, // compare-and, FastOp::cmp says which
    Pure,   // any other operation that cannot fault: the general operation code
    LoadD,  // 8-byte load, MAS 0, not speculative: inline when aligned and in RAM
    StoreD, // 8-byte store, MAS 0: inline when aligned and in RAM
    Store,
    Slow, // other operations that may fault (loads, divisions): the general operation code
};
constexpr unsigned kFastSForm = unsigned(FastCode::AndS) - unsigned(FastCode::AndD);

// Condition byte of a FastOp: 0 = unconditional, else kFastCondOn | flags | index (0..31).
enum : uint8_t { kFastCondOn = 0x80, kFastCondNeg = 0x40, kFastCondPcnt = 0x20 };
enum : uint8_t { kFastCmpWide = 0x08 };

struct FastOp {
    const uint64_t* p1 = nullptr; // operand values: a register slot or an immediate
    const uint64_t* p2 = nullptr;
    uint64_t* dst = nullptr; // register slot written (the Cpu's sink for %empty); a store's value
    FastCode code = FastCode::Slow;
    uint8_t op = 0;   // index into DecodedBundle::ops
    uint8_t cond = 0; // see kFastCondOn
    uint8_t pred = 0; // Cmp: logical predicate written
    uint8_t cmp = 0;  // CmpAnd: cmpop | kFastCmpWide
    bool write64 = false;
};

// The in-place ops of a fast bundle as host code (InPlaceJit.h). `regs`: the Cpu's register
// slots the operands were bound to; `ram`: guest RAM at address 0 (loads are checked by the
// caller); `dbl`: the window's dbl flag (32-bit results clear the upper half when set);
// `enabled`: bit k set when the predicated op ops[k] runs (read only when conds). Returns the
// compare results by logical predicate: bit p is the last enabled compare into %pred<p>.
using InPlaceCode = uint32_t (*)(uint64_t* regs, const uint8_t* ram, uint32_t dbl,
                                 uint32_t enabled);

// Whether every in-place load of a fast bundle (no predicated ops) reads aligned RAM: each
// address is 8-aligned and in [low, low + span] (span = RAM size - 8 - low).
using InPlaceLoadCheck = bool (*)(const uint64_t* regs, uint64_t low, uint64_t span);

// A bundle planned for the fast path: no BR/PLS/loop-counter changes, no wait, no state
// registers, no %b[] operands, at most one condition per op (setwd, calls are fine). ops[0..nEarly)
// may fault and run first, in channel order, with their results written when the bundle commits;
// the rest cannot fault and write their results in place, in an order that keeps
// all-reads-before-writes and highest-channel-wins. nEarly == nOps when no such order exists.
// In-place LoadD ops (bits of checkLoads) cannot fault because their addresses are checked before
// the bundle starts; when one would fault the bundle goes to the general path instead.
struct FastBundle {
    bool usable = false;
    uint8_t nOps = 0;
    uint8_t nEarly = 0;
    uint8_t checkLoads = 0;
    bool conds = false; // some in-place op is predicated
    bool rare = false;  // setwd or call: handled by a separate copy of the fast path
    uint8_t ctMode = 0; // control transfer: 0 none, 1 always, 2 on %pred, 3 on ~%pred
    uint8_t ctPred = 0;
    bool cs0WritesCtpr = false; // disp/sdisp/return
    FastOp ops[6];
    InPlaceCode jit = nullptr; // the in-place ops translated, when InPlaceJit could
    uint8_t nJitCmps = 0;      // the compares among the translated ops: ops[jitCmpOp[0..n)]
    uint8_t jitCmpOp[6] = {};
    uint32_t jitPredMask = 0;                // the logical predicates they write
    InPlaceLoadCheck jitLoadCheck = nullptr; // loadsInRam as host code
    const void* whole = nullptr;             // the whole bundle translated (BundleJit.h)
};

struct DecodedBundle {
    // Decoded-cache key set by the Cpu: the IP, all ones while the slot is empty.
    uint64_t cacheKey = ~uint64_t(0);
    FastBundle fast;

    uint64_t ip = ~uint64_t(0);
    uint8_t size = 0;
    bool illegal = false;
    std::string illegalReason;
    uint8_t illegalChannels = 0;

    uint8_t nOps = 0;
    DecodedOp ops[6];
    bool hasStore = false;

    // Registers this bundle touches (checked once against the window before it runs).
    uint8_t needWindow = 0; // max %rN index + 1
    uint8_t needBased = 0;  // max %b[N] index + 1

    bool setwd = false;
    uint8_t wsz = 0; // in register pairs
    bool dbl = false;
    bool setbn = false, setbp = false;
    uint8_t rbs = 0, rsz = 0, rcur = 0, psz = 0;

    Cs0Kind cs0 = Cs0Kind::None;
    uint8_t cs0Ctpr = 0;
    uint64_t cs0Value = 0; // disp/ibranch target, sdisp entry number

    uint8_t ctop = 0;    // CTPR used by ct/call (0 = none)
    uint16_t ctcond = 0; // SS 8:0
    bool call = false;
    uint8_t wbs = 0;
    uint8_t alc = 0, abn = 0, abp = 0; // stub bits: 1 = when true, 2 = when false

    bool waitTrap = false;
    bool flushr = false, flushc = false;
    bool loopMode = false;

    uint8_t nPls = 0;
    DecodedPls pls{};

    // Array access unit (ISA notes §8): MOVAs, and SS bap (load the array prefetch program
    // from %ctpr2) / eap (end array prefetch).
    uint8_t nMova = 0;
    DecodedMova mova[4];
    bool bap = false, eap = false;
    bool aau = false; // any AAU work: MOVA, bap/eap, staa/ldaa/aaurw/aaurr

    // Set by the Cpu: only simple register ALU ops/compares that cannot fault, so results
    // may be written as they are computed, in channel order (1) or reverse order (2) —
    // whichever lets every op still read the values from before the bundle. 0 = no.
    uint8_t inPlace = 0;
};

void decodeBundle(const RawBundle& raw, uint64_t ip, DecodedBundle& out);

} // namespace e2kvm::emu

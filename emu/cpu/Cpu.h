#pragma once
// Cpu: an E2K (elbrus-v3 integer subset) interpreter. Executes predecoded bundles with
// bundle semantics (all reads before any write, highest channel wins), register windows
// spilled to the procedure stack and chain records kept in guest memory (ISA notes §2, §4).
// Exceptions either enter the guest's trap table (system mode) or stop run() (user mode).
#include "emu/cpu/ArrayAccessUnit.h"
#include "emu/cpu/BundleJit.h"
#include "emu/cpu/DecodedBundle.h"
#include "emu/cpu/GuestException.h"
#include "emu/cpu/GuestMemory.h"
#include "emu/cpu/InPlaceJit.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::emu {

// CTPR tags (linux-headers cpu_regs_types.h) and the "return" opc.
enum : uint8_t { kCtprEmpty = 0, kCtprProcLabel = 2, kCtprLocal = 3, kCtprSystem = 5 };

struct CpuState {
    uint64_t ip = 0;
    uint64_t regs[256] = {}; // current window at slots 0..wdSize-1, globals at 224..255
    unsigned wdSize = 0, wdPsize = 0;
    bool wdDbl = false;
    unsigned rbs = 0, rsz = 0, rcur = 0, psz = 0, pcur = 0; // BR
    uint32_t preds = 0;                                     // physical predicate values
    // Tags (ISA notes §3.7): a speculative operation that faults, or that reads a diagnostic
    // operand, yields a diagnostic value instead of trapping. tags[slot]: bits 1:0 tag the
    // low half of regs[slot], bits 3:2 the high half (0 = number, 5 = diagnostic dword).
    uint8_t tags[256] = {};
    uint32_t predTags = 0; // physical predicates holding a diagnostic value
    // High 16 bits (sign and exponent) of an 80-bit value in regs[slot] (movif, fx*xx).
    uint16_t ext[256] = {};
    bool extLive = false;  // some ext part was written: calls move ext parts too
    bool tagsLive = false; // some tag may be set: bundles take the tag-aware general path
    uint64_t ctpr[4] = {}; // [1..3] in hardware layout
    uint32_t lcnt = 0;
    uint8_t ecnt = 0, pcnt = 0;
    uint8_t strmd = 0; // LSR.strmd: stores of the last epilogue iteration to keep
    bool vlc = false, over = false;
    uint64_t ilcr = 0;
    uint32_t psr = 0, upsr = 0;
    uint64_t usdBase = 0, usdSize = 0, sbr = 0;
    uint64_t pspBase = 0, pspInd = 0, pspSize = 0;
    uint64_t pcspBase = 0, pcspInd = 0, pcspSize = 0;
    uint64_t oscudLo = 0, oscudHi = 0, osgdLo = 0, osgdHi = 0;
    uint64_t cudLo = 0, cudHi = 0, gdLo = 0, gdHi = 0, cuir = 0;
    ArrayAccessUnit aau;
    // DAM (ISA notes §3.6 MAS): a load with MAS mod 4 locks its bytes, a store to them marks
    // the lock hit, and a load with mod 3 checks and unlocks it: %MLOCK of its bundle is true
    // when the lock was hit (the suite's dam/dam-2; the locking load's own store counts).
    struct DamLock {
        uint64_t addr = 0;
        uint8_t size = 0;
        bool hit = false;
    };
    static constexpr unsigned kDamLocks = 8;
    DamLock dam[kDamLocks];
    uint8_t damCount = 0;
    uint64_t bundles = 0; // executed bundles (%clkr)
    uint64_t ops = 0;     // ALU channel operations issued by executed bundles
};

enum class StopReason { None, Budget, Exception, SystemCall, Wait };

struct StopInfo {
    StopReason reason = StopReason::None;
    ExcNum exc = ExcNum::IllegalOpcode;
    std::string message;
    uint64_t ip = 0;    // bundle that faulted / made the system call
    unsigned entry = 0; // system call: trap-table entry number
};

struct TirEntry {
    uint64_t hi = 0, lo = 0;
};

class Cpu {
public:
    explicit Cpu(GuestMemory& mem);

    CpuState& state() { return s_; }
    const CpuState& state() const { return s_; }
    GuestMemory& memory() { return mem_; }

    // User mode: exceptions and system-label calls stop run() instead of entering the OS.
    void setUserMode(bool user) { userMode_ = user; }
    // Base address that sdisp entries are relative to in user mode (never executed).
    static constexpr uint64_t kFakeTrapTable = 0xE200000000ull;

    // Runs until something stops it or `maxBundles` bundles have executed.
    StopInfo run(uint64_t maxBundles);

    // Ends run() with StopReason::Budget right after the current bundle (a device wants the
    // machine to act at once, e.g. a power-off register write). Machine thread only.
    void requestStop() {
        if (pendingStop_.reason == StopReason::None)
            pendingStop_.reason = StopReason::Budget;
    }

    // After a SystemCall stop: return to the caller as `return` + `ct %ctpr3` would.
    void returnFromCall();

    // User mode signal delivery: calls `target` as a procedure (the whole window spilled, so
    // it starts with an empty one) that returns to `returnIp`.
    void callHandler(uint64_t target, uint64_t returnIp) {
        callProcedure(target, s_.wdSize / 2, returnIp, false);
    }

    // Maskable interrupt line (level): while raised and PSR/UPSR allow it (ISA notes §6.6),
    // run() enters the trap table between bundles with TIR bit 32. Safe from other threads.
    void setInterruptLine(bool raised) { irqLine_.store(raised, std::memory_order_relaxed); }
    bool interruptsEnabled() const {
        return (s_.psr & 0x2) && (!(s_.psr & 0x10) || (s_.upsr & 0x20));
    }

    // Raises exc as if the current bundle caused it (system mode: trap entry).
    void enterTrap(ExcNum exc, uint8_t channels, uint64_t faultIp);

    // For tests and the fuzzer: execute exactly one bundle at IP (throws GuestException).
    void step();

    // Register access through the current window (%rN) as guests see it.
    uint64_t reg(unsigned n) const { return s_.regs[n]; }
    bool pred(unsigned n) const { return (s_.preds >> physPred(n)) & 1; }
    void setPred(unsigned n, bool v);

    uint64_t readStateReg(uint8_t number);
    void writeStateReg(uint8_t number, uint64_t value);

    const std::vector<TirEntry>& tirs() const { return tirs_; }
    static constexpr uint64_t kIdr = 0x0003; // model 3 (elbrus-v3 class), revision 0

    void flushDecodeCache();

    // Whether the bundle at `ip` runs on the fast path (decodes it; throws like a fetch).
    bool fastPathCovers(uint64_t ip) { return fetch(ip).fast.usable; }
    // Whether its in-place ops run as host code (InPlaceJit; decodes it, throws like a fetch).
    bool fastPathTranslates(uint64_t ip) { return fetch(ip).fast.jit != nullptr; }
    // Off: every bundle takes the general path (for tests that compare the two; flushes the
    // decoded cache). On by default.
    void setFastPath(bool on) {
        fastPath_ = on;
        flushDecodeCache();
    }
    // Off: the fast path interprets its in-place ops instead of running them as host code
    // (InPlaceJit; for tests that compare the two). On by default.
    void setInPlaceJit(bool on) {
        jitOn_ = on;
        flushDecodeCache();
    }
    // Whether the bundle at `ip` runs as one whole translation linked to the next (BundleJit;
    // decodes it, throws like a fetch).
    bool fastPathLinks(uint64_t ip) { return fetch(ip).fast.whole != nullptr; }
    // Off: no whole-bundle translations (BundleJit), only the in-place ones (when those are on;
    // for tests that compare the two). On by default.
    void setBundleJit(bool on) {
        bundleJitOn_ = on;
        flushDecodeCache();
    }

private:
    friend struct MachineStateFields; // saves and loads the state (MachineState.cpp)
    struct Pending;
    struct PendingStore {
        uint64_t addr, value;
        uint8_t size, mas;
    };
    const DecodedBundle& fetch(uint64_t ip) {
        DecodedBundle& slot = cache_[(ip >> 3) & (kCacheSize - 1)];
        if (slot.cacheKey == ip) [[likely]]
            return slot;
        return decodeInto(slot, ip);
    }
    DecodedBundle& decodeInto(DecodedBundle& slot, uint64_t ip);
    // Defined (and only used) in Cpu.cpp, inlined into run() and step().
    inline void dispatch(const DecodedBundle& b);
    // What the fast path's first phase leaves for the commit.
    struct FastResults {
        uint64_t vals[6];
        unsigned deferred; // bit k: ops[k] has a result in vals[k]
        unsigned nStores;
        PendingStore stores[2];
        uint32_t predMask, predVals; // predicates written, their values (physical bits)
    };
    // Rare: the bundle may have setwd or a call (FastBundle::rare).
    template <bool Rare> inline void executeFast(const DecodedBundle& b);
    void executeFastRare(const DecodedBundle& b);
    template <bool Conds>
    void runInPlace(const DecodedBundle& b, uint32_t preds0, uint32_t& predMask,
                    uint32_t& predVals);
    inline void runTranslated(const FastBundle& f, uint32_t preds0, uint32_t& predMask,
                              uint32_t& predVals);
    uint64_t cs0Ctpr(const DecodedBundle& b);
    bool loadsInRam(const FastBundle& f, uint32_t preds0) const;
    uint64_t pureOp(const DecodedBundle& b, const FastOp& op, uint64_t a, uint64_t bv,
                    uint32_t preds0);
    // False when a speculative op produced a diagnostic value (nothing is written then: the
    // general path runs the bundle again and tags the result).
    bool runEarly(const DecodedBundle& b, uint32_t preds0, FastResults& res);
    void commitDeferred(const FastBundle& f, const FastResults& res);
    void prepareStore(const DecodedOp& op, uint64_t a, uint64_t bv, PendingStore& out);
    bool fastCond(uint8_t cond, uint32_t preds) const {
        const unsigned n = cond & 0x1F;
        const bool v = (cond & kFastCondPcnt) ? s_.pcnt <= n : (preds >> physPred(n)) & 1;
        return v != bool(cond & kFastCondNeg);
    }
    void bindOperands(DecodedBundle& b);
    uint64_t readOperand(const Operand& o) const {
        switch (o.type) {
        case OperandType::Direct:
            return s_.regs[o.index];
        case OperandType::Based:
            return s_.regs[basedSlot(o.index)];
        default:
            return o.imm;
        }
    }
    bool computeOp(const DecodedBundle& b, const DecodedOp& op, uint64_t a, uint64_t bv,
                   uint32_t preds0, Pending& pd, uint64_t& r);
    void execute(const DecodedBundle& b);
    // DAM: a lock (mod 4) or check (mod 3) load of the current bundle.
    struct DamAccess {
        uint64_t addr;
        uint8_t size;
        bool check;
    };
    // %MLOCK for this bundle's check loads, counting its own stores.
    bool damCheck(const DamAccess* acc, unsigned n, const Pending& pd) const;
    void damCommit(const DamAccess* acc, unsigned n, const Pending& pd);
    // MOVA results of bundle b (read before anything is written): value and tag per MOVA.
    void readMovas(const DecodedBundle& b, uint64_t* vals, uint8_t* tags);
    // bap: the program %ctpr2 (an ldisp label) points at, read before the bundle commits.
    unsigned readPrefetchProgram(uint64_t (*words)[2]);
    // Tag of operand `o` (0 for immediates), 32- or 64-bit wide.
    uint16_t operandExt(const Operand& o) const {
        switch (o.type) {
        case OperandType::Direct:
            return s_.ext[o.index];
        case OperandType::Based:
            return s_.ext[basedSlot(o.index)];
        default:
            return 0;
        }
    }
    uint8_t operandTag(const Operand& o, bool wide) const {
        switch (o.type) {
        case OperandType::Direct:
            return s_.tags[o.index] & (wide ? 0xF : 0x3);
        case OperandType::Based:
            return s_.tags[basedSlot(o.index)] & (wide ? 0xF : 0x3);
        default:
            return 0;
        }
    }
    bool predTagged(unsigned n) const { return (s_.predTags >> physPred(n)) & 1; }
    // Recomputes tagsLive after a bundle that may have cleared the last tag.
    void refreshTagsLive();
    uint8_t sourceTag(const DecodedOp& op, uint32_t preds0) const;
    void checkTransferPredicate(uint16_t ctcond, uint32_t preds0) const;
    // Writes a result's tag the way the value is written (32-bit results: low half).
    void writeTag(unsigned slot, uint8_t tag, bool write64) {
        if (write64)
            s_.tags[slot] = tag & 0xF;
        else if (s_.wdDbl)
            s_.tags[slot] = tag & 3 ? 5 : 0;
        else
            s_.tags[slot] = uint8_t((s_.tags[slot] & 0xC) | (tag & 3));
    }
    // Rotation without division: pcur <= psz and n <= psz, so one subtraction suffices.
    unsigned physPred(unsigned n) const {
        if (n > s_.psz || s_.pcur == 0)
            return n;
        unsigned x = s_.pcur + n;
        return x > s_.psz ? x - (s_.psz + 1) : x;
    }
    // Callers check n < 2 * (rsz + 1) first (execute's bundle-level bounds check).
    unsigned basedSlot(unsigned n) const {
        unsigned span = 2 * (s_.rsz + 1);
        unsigned x = 2 * s_.rcur + n;
        return 2 * s_.rbs + (x >= span ? x - span : x);
    }
    bool predCond(const PredCond& c, uint32_t preds) const;
    bool ctCondition(uint16_t ctcond, uint32_t preds) const;
    bool loopEnd() const { return s_.vlc && s_.lcnt < 2 && s_.ecnt == 0; }
    void callProcedure(uint64_t target, unsigned wbs, uint64_t returnIp, bool trap);
    void returnProcedure(bool trapReturn);
    void systemCall(const DecodedBundle& b, uint64_t target);
    uint64_t topChainRecord(unsigned word);
    void checkCall(unsigned wbs) const;
    // How a bundle leaves; decided (and validated) before anything is written.
    enum class Transfer : uint8_t { None, Jump, Return, Call, SysCall, Done };
    // The transfer of a taken `ct` (or `call`, when `call`) through CTPR value `ctpr`; throws the
    // guest's exception for a target the CTPR cannot be used for.
    inline Transfer ctprTransfer(const DecodedBundle& b, uint64_t ctpr, bool call) const;
    // Moves to where a committed bundle leads.
    inline void finishTransfer(const DecodedBundle& b, Transfer t, uint64_t target);
    uint64_t packLsr() const;
    void unpackLsr(uint64_t v);
    uint64_t packBr() const;
    void unpackBr(uint64_t v);

    GuestMemory& mem_;
    CpuState s_;
    bool userMode_ = false;
    std::atomic<bool> irqLine_{false};
    std::vector<TirEntry> tirs_;
    StopInfo pendingStop_;
    // Traps for one exception at one bundle, nested with no `done` and no TIR un-freeze in
    // between: the trap handler faults on itself. run() stops at kMaxNestedFaults instead of
    // nesting until the chain stack overflows.
    static constexpr unsigned kMaxNestedFaults = 8;
    uint64_t nestedFaultIp_ = ~uint64_t(0);
    ExcNum nestedFaultExc_{};
    unsigned nestedFaults_ = 0;

    // Direct-mapped cache of decoded bundles by IP: a lookup is one compare of the slot's key
    // with the IP. A flush empties just the slots filled since the previous one (filled_).
    static constexpr unsigned kCacheSize = 4096;
    static constexpr uint64_t kNoBundle = ~uint64_t(0); // key of an empty slot (not aligned)
    std::unique_ptr<DecodedBundle[]> cache_;
    std::vector<uint16_t> filled_;
    uint64_t sink_ = 0;   // fast-path writes to %empty land here
    bool diag_ = false;   // computeOp: a speculative op faulted and its result is diagnostic
    uint16_t extOut_ = 0; // computeOp: the ext part of an 80-bit result
    bool mlock_ = false;  // %MLOCK of the bundle being executed
    bool fastPath_ = true;
    InPlaceJit jit_;
    bool jitOn_ = true;
    // Whole-bundle translations: the link table (parallel to cache_) and the RAM bounds their
    // checks read (set when run() starts).
    BundleJit bundleJit_{jit_};
    bool bundleJitOn_ = true;
    std::unique_ptr<BundleLink[]> links_;
    uint64_t jitRamLow_ = 0, jitRamSpan_ = 0;
    uint64_t jitScratch_[6] = {};
    BundleJitLayout jitLayout();
};

} // namespace e2kvm::emu

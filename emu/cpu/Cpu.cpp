#include "emu/cpu/Cpu.h"

#include "emu/cpu/FastPlan.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>

namespace e2kvm::emu {

namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

constexpr uint64_t kAddrMask = (uint64_t(1) << 48) - 1;
// Bits a speculative op's result gets when a diagnostic predicate enabled it (the suite's
// sm/qual-4, qual-10, qual-11: addd 0, 0 gives 0x4000000040000000, subd 0, 1 stays -1).
constexpr uint64_t kDiagPattern = 0x4000000040000000ull;
// Value of a speculative op that faulted (the suite's int/insfd-1 reads its high half back).
constexpr uint64_t kDiagValue = 0x4afafafa4afafafaull;
// UPSR.ac: misaligned accesses without MAS.na trap only while it is set (Linux user programs
// run with it clear: the suite's win/same-reg-access and syscall/get-ps-size read misaligned
// data with ldd and pass on hardware).
constexpr uint32_t kUpsrAc = 0x4;

uint64_t makeCtpr(uint64_t target, uint8_t tag, uint8_t opc = 0) {
    return (target & kAddrMask) | uint64_t(tag) << 54 | uint64_t(opc) << 57;
}
uint8_t ctprTag(uint64_t c) {
    return (c >> 54) & 7;
}
uint8_t ctprOpc(uint64_t c) {
    return (c >> 57) & 3;
}
constexpr uint8_t kCtprOpcLdisp = 1; // array prefetch program: bap reads it, ct may not
bool ctprIsReturn(uint64_t c) {
    return ctprTag(c) == kCtprProcLabel && ctprOpc(c) == 3;
}

// Operations the interpreter's fast path handles inline; everything else goes to computeOp.
enum class ExecCode : uint8_t {
    Other,
    Add,
    Sub,
    And,
    Or,
    Xor,
    ShlD,
    ShrD,
    SarD,
    LoadD,
    CmpD,
    CmpS
};

// The 64-bit ALU operations both bundle paths run inline. False (r untouched) for the rest.
[[gnu::always_inline]] inline bool inlineAlu(ExecCode code, uint64_t a, uint64_t b, uint64_t& r) {
    switch (code) {
    case ExecCode::Add:
        r = a + b;
        return true;
    case ExecCode::Sub:
        r = a - b;
        return true;
    case ExecCode::And:
        r = a & b;
        return true;
    case ExecCode::Or:
        r = a | b;
        return true;
    case ExecCode::Xor:
        r = a ^ b;
        return true;
    case ExecCode::ShlD:
        r = a << (b & 63);
        return true;
    case ExecCode::ShrD:
        r = a >> (b & 63);
        return true;
    case ExecCode::SarD:
        r = uint64_t(int64_t(a) >> (b & 63));
        return true;
    default:
        return false;
    }
}

// 80-bit values: the host's long double is the x87 extended format E2K uses (64-bit mantissa
// with explicit integer bit, then 16 bits of sign and exponent).
static_assert(std::numeric_limits<long double>::digits == 64, "x87 extended long double needed");

long double toF80(uint64_t mantissa, uint16_t signExp) {
    unsigned char b[sizeof(long double)] = {};
    std::memcpy(b, &mantissa, 8);
    std::memcpy(b + 8, &signExp, 2);
    long double v;
    std::memcpy(&v, b, sizeof v);
    return v;
}

uint64_t fromF80(long double v, uint16_t& signExp) {
    unsigned char b[sizeof(long double)];
    std::memcpy(b, &v, sizeof v);
    uint64_t mantissa;
    std::memcpy(&mantissa, b, 8);
    std::memcpy(&signExp, b + 8, 2);
    return mantissa;
}

[[noreturn, gnu::noinline, gnu::cold]] void throwWindowBounds(unsigned need, unsigned wdSize) {
    throw GuestException(ExcNum::WindowBounds, "%r" + std::to_string(need - 1) +
                                                   " outside a window of " +
                                                   std::to_string(wdSize) + " registers");
}

[[noreturn, gnu::noinline, gnu::cold]] void throwBadCtTarget(unsigned ctpr) {
    throw GuestException(ExcNum::IllegalOpcode, "ct through %ctpr" + std::to_string(ctpr) +
                                                    " which holds no valid target");
}

[[noreturn, gnu::noinline, gnu::cold]] void throwSetwdBelowParameters(unsigned wdSize) {
    throw GuestException(ExcNum::IllegalOpcode, "setwd: window of " + std::to_string(wdSize) +
                                                    " registers is smaller than the " +
                                                    "parameter area");
}

[[noreturn, gnu::noinline, gnu::cold]] void throwCallWithoutLabel(unsigned ctpr) {
    throw GuestException(ExcNum::IllegalOpcode, "call through %ctpr" + std::to_string(ctpr) +
                                                    " which holds no procedure label");
}

[[noreturn, gnu::noinline, gnu::cold]] void throwEmptyChainReturn() {
    throw GuestException(ExcNum::ChainStackBounds, "return with an empty chain stack");
}

bool evenParity8(uint64_t v) {
    return (std::popcount(uint8_t(v)) & 1) == 0;
}

uint64_t bswap(uint64_t v, unsigned size) {
    uint64_t r = 0;
    for (unsigned i = 0; i < size; ++i)
        r |= ((v >> (8 * i)) & 0xFF) << (8 * (size - 1 - i));
    return r;
}

[[gnu::always_inline]] inline bool compare(OpKind kind, bool wide, uint8_t cmpop, uint64_t a,
                                           uint64_t b) {
    if (kind == OpKind::CmpAnd) {
        uint64_t r = a & b;
        int64_t sr = wide ? int64_t(r) : int64_t(int32_t(uint32_t(r)));
        switch (cmpop) {
        case 2:
            return sr == 0;
        case 4:
            return sr < 0;
        case 5:
            return evenParity8(r);
        default:
            return sr <= 0;
        }
    }
    if (!wide) {
        a = uint32_t(a);
        b = uint32_t(b);
    }
    int64_t sa = wide ? int64_t(a) : int64_t(int32_t(uint32_t(a)));
    int64_t sb = wide ? int64_t(b) : int64_t(int32_t(uint32_t(b)));
    uint64_t diff = a - b;
    switch (cmpop) {
    case 0: { // signed overflow of a - b
        unsigned top = wide ? 63 : 31;
        return (((a ^ b) & (a ^ diff)) >> top) & 1;
    }
    case 1:
        return a < b;
    case 2:
        return a == b;
    case 3:
        return a <= b;
    case 4:
        return wide ? int64_t(diff) < 0 : int32_t(uint32_t(diff)) < 0;
    case 5:
        return evenParity8(diff);
    case 6:
        return sa < sb;
    default:
        return sa <= sb;
    }
}

// Value of a fast ALU code (D and S forms; only the low half of an S result is written).
[[gnu::always_inline]] inline uint64_t fastAlu(FastCode code, uint64_t a, uint64_t b) {
    switch (code) {
    case FastCode::AndD:
    case FastCode::AndS:
        return a & b;
    case FastCode::AndnD:
    case FastCode::AndnS:
        return a & ~b;
    case FastCode::OrD:
    case FastCode::OrS:
        return a | b;
    case FastCode::OrnD:
    case FastCode::OrnS:
        return a | ~b;
    case FastCode::XorD:
    case FastCode::XorS:
        return a ^ b;
    case FastCode::XornD:
    case FastCode::XornS:
        return a ^ ~b;
    case FastCode::AddD:
    case FastCode::AddS:
        return a + b;
    case FastCode::SubD:
    case FastCode::SubS:
        return a - b;
    case FastCode::ShlD:
        return a << (b & 63);
    case FastCode::ShrD:
        return a >> (b & 63);
    case FastCode::SarD:
        return uint64_t(int64_t(a) >> (b & 63));
    case FastCode::ShlS:
        return uint32_t(a) << (b & 31);
    case FastCode::ShrS:
        return uint32_t(a) >> (b & 31);
    case FastCode::SarS:
        return uint32_t(int32_t(uint32_t(a)) >> (b & 31));
    default:
        __builtin_unreachable();
    }
}

// Result of a fast compare code CmpOD..CmpLES.
[[gnu::always_inline]] inline bool fastCompare(FastCode code, uint64_t a, uint64_t b) {
    const unsigned i = unsigned(code) - unsigned(FastCode::CmpOD);
    return compare(OpKind::Cmp, i < 8, uint8_t(i & 7), a, b);
}

} // namespace

struct Cpu::Pending {
    PendingStore stores[2];
    unsigned nStores = 0;
    bool stateWrite = false;
    uint8_t stateReg = 0;
    uint64_t stateValue = 0;
    bool usdWrite = false;
    uint64_t usdBase = 0, usdSize = 0;
    uint32_t predSet = 0, predClear = 0;
    uint32_t predTagSet = 0, predTagClear = 0;
    uint64_t ctpr[4];
    // aaurw* writes and staa* %aasti increments (ALC2/ALC5), applied at commit in order.
    struct AauWrite {
        AauReg reg;
        uint8_t index;
        bool wide, add;
        uint64_t value;
    } aau[2];
    unsigned nAau = 0;
};

Cpu::Cpu(GuestMemory& mem)
    : mem_(mem), cache_(new DecodedBundle[kCacheSize]), links_(new BundleLink[kLinkTableSize]) {
    static_assert(kLinkTableSize == kCacheSize);
    filled_.reserve(kCacheSize);
}

void Cpu::flushDecodeCache() {
    for (const uint16_t i : filled_) {
        cache_[i].cacheKey = kNoBundle;
        links_[i] = BundleLink{};
    }
    filled_.clear();
    jit_.reset(); // no slot refers to its code any more
    bundleJit_.reset();
}

BundleJitLayout Cpu::jitLayout() {
    return {s_.regs,
            &s_.preds,
            &s_.wdSize,
            &s_.pcur,
            &s_.wdDbl,
            &s_.pcnt,
            s_.ctpr,
            &s_.ip,
            &s_.bundles,
            &s_.ops,
            &jitRamLow_,
            &jitRamSpan_,
            mem_.codePageMarks(),
            &irqLine_,
            jitScratch_};
}

void Cpu::setPred(unsigned n, bool v) {
    unsigned p = physPred(n);
    s_.preds = (s_.preds & ~(1u << p)) | (uint32_t(v) << p);
}

DecodedBundle& Cpu::decodeInto(DecodedBundle& slot, uint64_t ip) {
    const bool translate = fastPath_ && jitOn_;
    if (translate && !jit_.hasRoom())
        flushDecodeCache(); // the code area is full: start it over with the cache
    const bool wasEmpty = slot.cacheKey == kNoBundle;
    if (ip & 7)
        throw GuestException(ExcNum::IllegalInstrAddr, "IP " + hex(ip) + " is not 8-aligned");
    uint64_t avail = 0;
    const uint8_t* p = mem_.fetchPointer(ip, avail);
    if (!p)
        throw GuestException(ExcNum::InstrPageMiss, "no code at IP " + hex(ip));
    RawBundle raw;
    if (!unpackBundle(p, avail, raw)) {
        slot = DecodedBundle{};
        slot.ip = ip;
        slot.size = 8;
        slot.illegal = true;
        slot.illegalReason = "invalid bundle layout";
    } else {
        decodeBundle(raw, ip, slot);
        bindOperands(slot);
        if (fastPath_)
            planFastPath(slot, s_.regs, &sink_);
        if (translate)
            slot.fast.jit = jit_.compile(slot, s_.regs);
        if (translate && bundleJitOn_)
            slot.fast.whole = bundleJit_.compile(slot, jitLayout());
    }
    links_[&slot - cache_.get()] = slot.fast.whole ? BundleLink{ip, slot.fast.whole} : BundleLink{};
    slot.cacheKey = ip; // aligned, so never kNoBundle
    if (wasEmpty)
        filled_.push_back(uint16_t(&slot - cache_.get()));
    mem_.markCode(ip);
    mem_.markCode(ip + slot.size - 1 < mem_.ramSize() ? ip + slot.size - 1 : ip);
    return slot;
}

void Cpu::bindOperands(DecodedBundle& b) {
    static const uint64_t kZero = 0;
    for (unsigned i = 0; i < b.nOps; ++i) {
        DecodedOp& op = b.ops[i];
        auto ptr = [&](Operand& o) -> const uint64_t* {
            switch (o.type) {
            case OperandType::Direct:
                return &s_.regs[o.index];
            case OperandType::Imm:
                return &o.imm;
            case OperandType::None:
                return &kZero;
            default:
                return nullptr;
            }
        };
        op.p1 = ptr(op.src1);
        op.p2 = ptr(op.src2);
        op.pdst = op.dstType == DstType::Direct ? &s_.regs[op.dst] : nullptr;
        if (!op.info)
            continue;
        op.write64 = op.info->dstWide || op.kind == OpKind::Load || op.kind == OpKind::Ldaa;
        const bool w = op.info->dstWide;
        ExecCode c = ExecCode::Other;
        switch (op.kind) {
        case OpKind::Add:
            c = ExecCode::Add;
            break;
        case OpKind::Sub:
            c = ExecCode::Sub;
            break;
        case OpKind::And:
            c = ExecCode::And;
            break;
        case OpKind::Or:
            c = ExecCode::Or;
            break;
        case OpKind::Xor:
            c = ExecCode::Xor;
            break;
        case OpKind::Shl:
            c = w ? ExecCode::ShlD : ExecCode::Other;
            break;
        case OpKind::Shr:
            c = w ? ExecCode::ShrD : ExecCode::Other;
            break;
        case OpKind::Sar:
            c = w ? ExecCode::SarD : ExecCode::Other;
            break;
        case OpKind::Cmp:
            c = w || op.info->src1Wide ? ExecCode::CmpD : ExecCode::CmpS;
            break;
        case OpKind::Load:
            c = op.info->memSize == 8 && op.mas == 0 && !op.sm ? ExecCode::LoadD : ExecCode::Other;
            break;
        default:
            break;
        }
        op.code = uint8_t(c);
    }
    // setwd changes dbl for this bundle's writes; MOVAs write registers at commit
    bool simple = !b.illegal && !b.setwd && !b.aau;
    for (unsigned i = 0; i < b.nOps && simple; ++i) {
        const DecodedOp& op = b.ops[i];
        switch (ExecCode(op.code)) {
        case ExecCode::Add:
        case ExecCode::Sub:
        case ExecCode::And:
        case ExecCode::Or:
        case ExecCode::Xor:
        case ExecCode::ShlD:
        case ExecCode::ShrD:
        case ExecCode::SarD:
        case ExecCode::CmpD:
        case ExecCode::CmpS:
            break;
        default:
            simple = false;
            continue;
        }
        if (!op.p1 || !op.p2 || op.dstType == DstType::Based || op.dstType == DstType::Ctpr)
            simple = false;
    }
    b.inPlace = 0;
    if (!simple)
        return;
    // Forward order is safe if no op reads a register an earlier op wrote; reverse order if
    // no op reads one a later op writes and no two ops write the same register.
    auto reads = [](const DecodedOp& op, unsigned slot) {
        return (op.src1.type == OperandType::Direct && op.src1.index == slot) ||
               (op.src2.type == OperandType::Direct && op.src2.index == slot);
    };
    bool forward = true, reverse = true;
    for (unsigned i = 0; i < b.nOps; ++i) {
        const DecodedOp& w = b.ops[i];
        if (w.dstType != DstType::Direct && w.dstType != DstType::Pred)
            continue;
        for (unsigned j = 0; j < b.nOps; ++j) {
            if (j == i)
                continue;
            const DecodedOp& o = b.ops[j];
            const bool readsDst = w.dstType == DstType::Direct && reads(o, w.dst);
            if (j > i && readsDst)
                forward = false;
            if (j < i && readsDst)
                reverse = false;
            if (o.dstType == w.dstType && o.dst == w.dst)
                reverse = false; // two writers of one register or predicate: highest last
        }
    }
    b.inPlace = forward ? 1 : reverse ? 2 : 0;
}

void Cpu::refreshTagsLive() {
    uint64_t any = s_.predTags;
    for (unsigned i = 0; i < s_.wdSize; ++i)
        any |= s_.tags[i];
    for (unsigned i = kGlobalBase; i < 256; ++i)
        any |= s_.tags[i];
    s_.tagsLive = any != 0;
    if (!s_.tagsLive) // stale tags outside the window must not come back while none is live
        std::memset(s_.tags, 0, sizeof s_.tags);
}

// Tag of the values an op reads; a diagnostic operand traps unless the op is speculative or
// only moves tags (movt*, puttag*, gettag*).
uint8_t Cpu::sourceTag(const DecodedOp& op, uint32_t preds0) const {
    const OpInfo& in = *op.info;
    uint8_t t = 0;
    switch (op.kind) {
    case OpKind::GetTag:
    case OpKind::PutTag:
        return 0;
    case OpKind::Mov:
        return operandTag(op.src2, in.src2Wide);
    case OpKind::Merge: {
        const bool second = predCond(op.mrgc, preds0);
        t = second ? operandTag(op.src2, in.src2Wide) : operandTag(op.src1, in.src1Wide);
        if (op.mrgc.kind == PredCond::Pred && predTagged(op.mrgc.index))
            t |= 1;
        break;
    }
    case OpKind::Store:
    case OpKind::Staa:
        t = operandTag(op.src1, in.src1Wide) | operandTag(op.src2, in.src2Wide) |
            operandTag(op.src3, in.dstWide);
        break;
    case OpKind::Insf: {
        // src2 bits 13 / 15: only the low half's tag of src1 / src3 counts
        const uint64_t sel = readOperand(op.src2);
        const bool wide = in.dstWide;
        t = operandTag(op.src2, in.src2Wide) |
            (operandTag(op.src1, wide) & ((sel >> 13) & 1 ? 0x3 : 0xF)) |
            (operandTag(op.src3, wide) & ((sel >> 15) & 1 ? 0x3 : 0xF));
        break;
    }
    default:
        t = operandTag(op.src1, in.src1Wide) | operandTag(op.src2, in.src2Wide);
    }
    if (t && !op.sm)
        throw GuestException(ExcNum::IllegalOperand,
                             std::string(in.name) + " reads a diagnostic operand",
                             uint8_t(1u << op.channel));
    return t;
}

// A control transfer whose decision depends on a diagnostic predicate traps.
void Cpu::checkTransferPredicate(uint16_t ctcond, uint32_t preds0) const {
    switch (ctcond >> 5) {
    case 2:
    case 3:
    case 6:
    case 7:
    case 14:
    case 15:
        break;
    default:
        return;
    }
    if (!predTagged(ctcond & 0x1F))
        return;
    const uint32_t bit = 1u << physPred(ctcond & 0x1F);
    if (ctCondition(ctcond, preds0 | bit) != ctCondition(ctcond, preds0 & ~bit))
        throw GuestException(ExcNum::IllegalOperand,
                             "control transfer decided by a diagnostic predicate");
}

bool Cpu::predCond(const PredCond& c, uint32_t preds) const {
    bool v;
    if (c.kind == PredCond::Pred)
        v = (preds >> physPred(c.index)) & 1;
    else
        v = s_.pcnt <= c.index;
    return v != c.neg;
}

bool Cpu::ctCondition(uint16_t ctcond, uint32_t preds) const {
    unsigned type = ctcond >> 5;
    bool p = (preds >> physPred(ctcond & 0x1F)) & 1;
    bool prologue = s_.pcnt != 0;
    bool le = loopEnd();
    switch (type) {
    case 0:
        return false;
    case 1:
        return true;
    case 2:
        return p;
    case 3:
        return !p;
    case 4:
        return le;
    case 5:
        return !le;
    case 6:
        return prologue ? le : (p || le);
    case 7:
        return prologue ? !le : (!p && !le);
    case 14:
        return prologue ? le : (!p || le);
    case 15:
        return prologue ? !le : (p && !le);
    default: // 8, 9: %MLOCK (the %dt_al / %cmp / %clp alternatives of type 9 are not modelled)
        return mlock_;
    }
}

uint64_t Cpu::packLsr() const {
    return uint64_t(s_.lcnt) | uint64_t(s_.ecnt & 0x1F) << 32 | uint64_t(s_.vlc) << 37 |
           uint64_t(s_.over) << 38 | uint64_t(s_.pcnt & 0x1F) << 48 |
           uint64_t(s_.strmd & 0x7F) << 53;
}

void Cpu::unpackLsr(uint64_t v) {
    s_.lcnt = uint32_t(v);
    s_.ecnt = (v >> 32) & 0x1F;
    s_.vlc = (v >> 37) & 1;
    s_.over = (v >> 38) & 1;
    s_.pcnt = (v >> 48) & 0x1F;
    s_.strmd = (v >> 53) & 0x7F;
}

uint64_t Cpu::packBr() const {
    return uint64_t(s_.rbs) | uint64_t(s_.rsz) << 6 | uint64_t(s_.rcur) << 12 |
           uint64_t(s_.psz) << 18 | uint64_t(s_.pcur) << 23;
}

void Cpu::unpackBr(uint64_t v) {
    s_.rbs = v & 0x3F;
    s_.rsz = (v >> 6) & 0x3F;
    s_.rcur = (v >> 12) & 0x3F;
    s_.psz = (v >> 18) & 0x1F;
    s_.pcur = (v >> 23) & 0x1F;
    if (s_.rcur > s_.rsz)
        s_.rcur = 0;
    if (s_.pcur > s_.psz)
        s_.pcur = 0;
}

uint64_t Cpu::topChainRecord(unsigned word) {
    if (s_.pcspInd < 32)
        throw GuestException(ExcNum::ChainStackBounds, "chain stack is empty");
    return mem_.load(s_.pcspBase + s_.pcspInd - 32 + 8 * word, 8);
}

void Cpu::checkCall(unsigned wbs) const {
    if (2 * wbs > s_.wdSize)
        throw GuestException(ExcNum::WindowBounds, "call wbs=" + std::to_string(wbs) +
                                                       " exceeds the window of " +
                                                       std::to_string(s_.wdSize) + " registers");
    if (s_.pspInd + 32ull * wbs > s_.pspSize)
        throw GuestException(ExcNum::ProcStackBounds, "procedure stack overflow");
    if (s_.pcspInd + 32 > s_.pcspSize)
        throw GuestException(ExcNum::ChainStackBounds, "chain stack overflow");
    if (!mem_.inRam(s_.pspBase + s_.pspInd, 32ull * wbs) ||
        !mem_.inRam(s_.pcspBase + s_.pcspInd, 32))
        throw GuestException(ExcNum::DataPage, "procedure/chain stack outside memory");
}

[[gnu::always_inline]] inline Cpu::Transfer Cpu::ctprTransfer(const DecodedBundle& b, uint64_t ctpr,
                                                              bool call) const {
    const uint8_t tag = ctprTag(ctpr);
    if (tag == kCtprLocal && ctprOpc(ctpr) == kCtprOpcLdisp) [[unlikely]]
        throwBadCtTarget(b.ctop);
    if (call) {
        if (tag != kCtprLocal && tag != kCtprSystem)
            throwCallWithoutLabel(b.ctop);
        checkCall(b.wbs);
        return tag == kCtprLocal ? Transfer::Call : Transfer::SysCall;
    }
    if (tag == kCtprLocal) [[likely]]
        return Transfer::Jump;
    if (!ctprIsReturn(ctpr))
        throwBadCtTarget(b.ctop);
    if (s_.pcspInd < 32)
        throwEmptyChainReturn();
    return Transfer::Return;
}

[[gnu::always_inline]] inline void Cpu::finishTransfer(const DecodedBundle& b, Transfer t,
                                                       uint64_t target) {
    switch (t) {
    case Transfer::None:
        s_.ip = b.ip + b.size;
        break;
    case Transfer::Jump:
        s_.ip = target;
        break;
    case Transfer::Call:
        callProcedure(target, b.wbs, b.ip + b.size, false);
        break;
    case Transfer::SysCall:
        systemCall(b, target);
        break;
    case Transfer::Return:
        returnProcedure(false);
        break;
    case Transfer::Done:
        returnProcedure(true);
        nestedFaults_ = 0;
        break;
    }
}

void Cpu::callProcedure(uint64_t target, unsigned wbs, uint64_t returnIp, bool trap) {
    checkCall(wbs);
    const unsigned n = 2 * wbs;
    uint8_t* ps = mem_.ramPointer(s_.pspBase + s_.pspInd, 32ull * wbs);
    // Tags and 80-bit ext parts: all zero unless one of these is set (then they move too).
    const bool extra = s_.tagsLive || s_.extLive;
    for (unsigned p = 0; p < wbs; ++p) {
        // ext words: the 80-bit ext part in 15:0, our own tag bits in 19:16 (0 for numbers)
        uint64_t rec[4] = {s_.regs[2 * p], s_.regs[2 * p + 1], 0, 0};
        if (extra) {
            rec[2] = s_.ext[2 * p] | uint64_t(s_.tags[2 * p]) << 16;
            rec[3] = s_.ext[2 * p + 1] | uint64_t(s_.tags[2 * p + 1]) << 16;
        }
        std::memcpy(ps + 32 * p, rec, 32);
    }
    s_.pspInd += 32ull * wbs;
    uint64_t cr0lo = 0;
    for (unsigned i = 0; i < 32; ++i)
        cr0lo |= uint64_t((s_.preds >> i) & 1) << (2 * i);
    if (s_.predTags) [[unlikely]]
        for (unsigned i = 0; i < 32; ++i)
            cr0lo |= uint64_t((s_.predTags >> i) & 1) << (2 * i + 1);
    uint64_t cr1lo = uint64_t(s_.wdPsize / 2) << 26 | uint64_t(wbs) << 33 |
                     (s_.cuir & 0x1FFFF) << 40 | uint64_t(s_.psr & 0x7F) << 57;
    uint64_t cr1hi = packBr() | uint64_t(s_.wdDbl) << 35 | (s_.usdSize >> 4) << 36;
    uint64_t rec[4] = {cr0lo, returnIp & ~uint64_t(7), cr1lo, cr1hi};
    mem_.write(s_.pcspBase + s_.pcspInd, rec, 32);
    s_.pcspInd += 32;
    std::memmove(s_.regs, s_.regs + n, (s_.wdSize - n) * 8);
    if (extra) [[unlikely]] {
        std::memmove(s_.tags, s_.tags + n, s_.wdSize - n);
        std::memmove(s_.ext, s_.ext + n, (s_.wdSize - n) * 2);
        std::memset(s_.tags + (s_.wdSize - n), 0, n);
        std::memset(s_.ext + (s_.wdSize - n), 0, n * 2);
    }
    s_.wdSize -= n;
    s_.wdPsize = s_.wdSize;
    // Calls invalidate the CTPRs; trap entry keeps them so that handlers can save them
    // with rrd and restore them with rwd before `done` (ISA notes §2.4, §6.5).
    if (!trap)
        s_.ctpr[1] = s_.ctpr[2] = s_.ctpr[3] = 0;
    s_.ip = target;
    if (trap)
        s_.psr = s_.psr & 0x04; // keep sge; interrupts off
    s_.psr |= trap ? 1 : 0;
}

void Cpu::returnProcedure(bool trapReturn) {
    if (s_.pcspInd < 32)
        throw GuestException(ExcNum::ChainStackBounds, "return with an empty chain stack");
    uint64_t rec[4];
    mem_.read(s_.pcspBase + s_.pcspInd - 32, rec, 32);
    unsigned wbs = (rec[2] >> 33) & 0x7F, wpsz = (rec[2] >> 26) & 0x7F;
    unsigned n = 2 * wbs;
    unsigned callerSize = s_.wdPsize + n;
    if (callerSize > 224 || 2 * wpsz > callerSize || s_.pspInd < 32ull * wbs)
        throw GuestException(ExcNum::ProcStackBounds, "chain record does not match the window");
    const uint8_t* ps = mem_.ramPointer(s_.pspBase + s_.pspInd - 32ull * wbs, 32ull * wbs);
    std::memmove(s_.regs + n, s_.regs, s_.wdPsize * 8);
    const bool extra = s_.tagsLive || s_.extLive;
    if (extra) [[unlikely]] {
        std::memmove(s_.tags + n, s_.tags, s_.wdPsize);
        std::memmove(s_.ext + n, s_.ext, s_.wdPsize * 2);
    }
    for (unsigned p = 0; p < wbs; ++p) {
        std::memcpy(&s_.regs[2 * p], ps + 32 * p, 8);
        std::memcpy(&s_.regs[2 * p + 1], ps + 32 * p + 8, 8);
        uint64_t ext[2];
        std::memcpy(ext, ps + 32 * p + 16, 16);
        if (!(ext[0] | ext[1]) && !extra) [[likely]]
            continue; // numbers without ext parts, and every tag/ext slot is already zero
        if (uint16_t(ext[0] | ext[1]))
            s_.extLive = true;
        s_.ext[2 * p] = uint16_t(ext[0]);
        s_.ext[2 * p + 1] = uint16_t(ext[1]);
        s_.tags[2 * p] = uint8_t((ext[0] >> 16) & 0xF);
        s_.tags[2 * p + 1] = uint8_t((ext[1] >> 16) & 0xF);
        if (((ext[0] | ext[1]) >> 16) & 0xF)
            s_.tagsLive = true;
    }
    s_.pspInd -= 32ull * wbs;
    s_.pcspInd -= 32;
    s_.wdSize = callerSize;
    s_.wdPsize = 2 * wpsz;
    s_.wdDbl = (rec[3] >> 35) & 1;
    unpackBr(rec[3] & 0xFFFFFFF);
    uint32_t preds = 0, predTags = 0;
    for (unsigned i = 0; i < 32; ++i) {
        preds |= uint32_t((rec[0] >> (2 * i)) & 1) << i;
        if (rec[0] & 0xAAAAAAAAAAAAAAAAull) [[unlikely]]
            predTags |= uint32_t((rec[0] >> (2 * i + 1)) & 1) << i;
    }
    s_.preds = preds;
    s_.predTags = predTags;
    if (predTags)
        s_.tagsLive = true;
    s_.psr = uint32_t(rec[2] >> 57) & 0x7F;
    s_.cuir = (rec[2] >> 40) & 0x1FFFF;
    s_.usdSize = (rec[3] >> 36) << 4;
    s_.usdBase = s_.sbr - s_.usdSize;
    s_.ip = rec[1] & ~uint64_t(7);
    if (!trapReturn)
        s_.ctpr[1] = s_.ctpr[2] = s_.ctpr[3] = 0;
}

// A call through a system label: user mode stops run() for the runtime, system mode enters
// the OS with privileges.
void Cpu::systemCall(const DecodedBundle& b, uint64_t target) {
    callProcedure(target, b.wbs, b.ip + b.size, false);
    if (userMode_) {
        pendingStop_.reason = StopReason::SystemCall;
        pendingStop_.ip = b.ip;
        pendingStop_.entry = unsigned((target - kFakeTrapTable) / 0x800);
    } else {
        s_.psr |= 1; // entering the OS through a system label
    }
}

void Cpu::returnFromCall() {
    returnProcedure(false);
}

void Cpu::enterTrap(ExcNum exc, uint8_t channels, uint64_t faultIp) {
    TirEntry t;
    t.hi = (uint64_t(1) << unsigned(exc)) | uint64_t(channels & 0x3F) << 44 |
           uint64_t(tirs_.size() & 0xFF) << 56;
    t.lo = faultIp & kAddrMask;
    if (tirs_.size() < 19)
        tirs_.push_back(t);
    unsigned wbs = s_.wdSize / 2;
    uint64_t base = s_.oscudLo & kAddrMask;
    callProcedure(base, wbs, faultIp, true);
}

uint64_t Cpu::readStateReg(uint8_t n) {
    switch (n) {
    case 0x00:
        return s_.psr;
    case 0x01:
        return uint64_t(s_.wdSize * 8) << 16 | uint64_t(s_.wdPsize * 8) << 32 |
               uint64_t(s_.wdDbl) << 49;
    case 0x04:
    case 0x06:
        return 0;
    case 0x07:
        return s_.pspInd | s_.pspSize << 32;
    case 0x09:
        return s_.pspBase | uint64_t(3) << 59;
    case 0x0b:
    case 0x13:
        return 0; // everything is already spilled
    case 0x0d:
        return s_.pcspInd | s_.pcspSize << 32;
    case 0x0f:
        return s_.pcspBase | uint64_t(3) << 59;
    case 0x15:
    case 0x16:
    case 0x17:
        return s_.ctpr[n - 0x14];
    case 0x1e:
        return s_.sbr;
    case 0x25:
        return s_.cuir;
    case 0x26:
        return s_.oscudHi;
    case 0x27:
        return s_.oscudLo;
    case 0x28:
        return s_.osgdHi;
    case 0x29:
        return s_.osgdLo;
    case 0x2c:
        return s_.usdSize << 32;
    case 0x2d:
        return s_.usdBase | uint64_t(3) << 59;
    case 0x30:
        return s_.cudHi;
    case 0x31:
        return s_.cudLo;
    case 0x32:
        return s_.gdHi;
    case 0x33:
        return s_.gdLo;
    case 0x51:
        return topChainRecord(1);
    case 0x53:
        return topChainRecord(0);
    case 0x55:
        return topChainRecord(3);
    case 0x57:
        return topChainRecord(2);
    case 0x80:
        return s_.upsr;
    case 0x81:
        return s_.ip;
    case 0x83:
        return packLsr();
    case 0x87:
        return s_.ilcr;
    case 0x88:
        return packBr();
    case 0x89:
        return 0;
    case 0x8a:
        return kIdr;
    case 0x90:
    case 0x92:
        return s_.bundles;
    case 0x9c:
        if (!(s_.psr & 1))
            break;
        return tirs_.empty() ? 0 : tirs_.back().hi;
    case 0x9d: {
        if (!(s_.psr & 1))
            break;
        if (tirs_.empty())
            return 0;
        uint64_t lo = tirs_.back().lo;
        tirs_.pop_back();
        return lo;
    }
    default:
        throw GuestException(ExcNum::IllegalOpcode, "read of unsupported state register " + hex(n));
    }
    throw GuestException(ExcNum::PrivAction, "read of privileged state register " + hex(n));
}

void Cpu::writeStateReg(uint8_t n, uint64_t v) {
    bool user = n == 0x80 || n == 0x83 || n == 0x87 || (n >= 0x15 && n <= 0x17);
    if (!user && !(s_.psr & 1))
        throw GuestException(ExcNum::PrivAction, "write of privileged state register " + hex(n));
    auto writeChain = [&](unsigned word) {
        topChainRecord(word); // bounds check
        mem_.store(s_.pcspBase + s_.pcspInd - 32 + 8 * word, 8, v);
    };
    switch (n) {
    case 0x00:
        s_.psr = v & 0x7F;
        return;
    case 0x07:
        s_.pspInd = uint32_t(v);
        s_.pspSize = v >> 32;
        return;
    case 0x09:
        s_.pspBase = v & kAddrMask;
        return;
    case 0x0d:
        s_.pcspInd = uint32_t(v);
        s_.pcspSize = v >> 32;
        return;
    case 0x0f:
        s_.pcspBase = v & kAddrMask;
        return;
    case 0x15:
    case 0x16:
    case 0x17:
        s_.ctpr[n - 0x14] = v;
        return;
    case 0x1e:
        s_.sbr = v & kAddrMask;
        return;
    case 0x25:
        s_.cuir = v;
        return;
    case 0x26:
        s_.oscudHi = v;
        return;
    case 0x27:
        s_.oscudLo = v;
        return;
    case 0x28:
        s_.osgdHi = v;
        return;
    case 0x29:
        s_.osgdLo = v;
        return;
    case 0x2c:
        s_.usdSize = v >> 32;
        return;
    case 0x2d:
        s_.usdBase = v & kAddrMask;
        return;
    case 0x30:
        s_.cudHi = v;
        return;
    case 0x31:
        s_.cudLo = v;
        return;
    case 0x32:
        s_.gdHi = v;
        return;
    case 0x33:
        s_.gdLo = v;
        return;
    case 0x51:
        return writeChain(1);
    case 0x53:
        return writeChain(0);
    case 0x55:
        return writeChain(3);
    case 0x57:
        return writeChain(2);
    case 0x80:
        s_.upsr = uint32_t(v) & 0x7FF;
        return;
    case 0x83:
        unpackLsr(v);
        return;
    case 0x87:
        s_.ilcr = v;
        return;
    case 0x88:
        unpackBr(v);
        return;
    case 0x9d:
        tirs_.clear(); // un-freeze the TIR LIFO
        nestedFaults_ = 0;
        return;
    default:
        throw GuestException(ExcNum::IllegalOpcode,
                             "write of unsupported state register " + hex(n));
    }
}

// Checks a store (alignment, something at the address) and captures its value; the bundle
// writes memory when it commits.
void Cpu::prepareStore(const DecodedOp& op, uint64_t a, uint64_t bv, PendingStore& out) {
    const uint64_t addr = a + bv;
    const unsigned size = op.info->memSize;
    if ((addr & (size - 1)) && !(op.mas & 0x10) && (s_.upsr & kUpsrAc))
        throw GuestException(ExcNum::AddrNotAligned,
                             std::string(op.info->name) + " at " + hex(addr),
                             uint8_t(1u << op.channel));
    if (!mem_.storable(addr, size))
        throw GuestException(ExcNum::DataPage,
                             std::string(op.info->name) + " at " + hex(addr) + ": no memory there",
                             uint8_t(1u << op.channel));
    uint64_t v = readOperand(op.src3);
    if (size < 8)
        v &= (uint64_t(1) << (8 * size)) - 1;
    if (op.mas & 0x08)
        v = bswap(v, size);
    out = {addr, v, uint8_t(size), op.mas};
}

bool Cpu::computeOp(const DecodedBundle& b, const DecodedOp& op, uint64_t a, uint64_t bv,
                    uint32_t preds0, Pending& pd, uint64_t& r) {
    const bool wide = op.info->dstWide;
    r = 0;
    switch (op.kind) {
    case OpKind::And:
        r = a & bv;
        break;
    case OpKind::Andn:
        r = a & ~bv;
        break;
    case OpKind::Or:
        r = a | bv;
        break;
    case OpKind::Orn:
        r = a | ~bv;
        break;
    case OpKind::Xor:
        r = a ^ bv;
        break;
    case OpKind::Xorn:
        r = a ^ ~bv;
        break;
    case OpKind::Add:
        r = a + bv;
        break;
    case OpKind::Sub:
        r = a - bv;
        break;
    case OpKind::Shl:
        r = wide ? a << (bv & 63) : uint32_t(a) << (bv & 31);
        break;
    case OpKind::Shr:
        r = wide ? a >> (bv & 63) : uint32_t(a) >> (bv & 31);
        break;
    case OpKind::Sar:
        r = wide ? uint64_t(int64_t(a) >> (bv & 63)) : uint32_t(int32_t(uint32_t(a)) >> (bv & 31));
        break;
    case OpKind::Scl:
        r = wide ? std::rotl(a, int(bv & 63)) : std::rotl(uint32_t(a), int(bv & 31));
        break;
    case OpKind::Scr:
        r = wide ? std::rotr(a, int(bv & 63)) : std::rotr(uint32_t(a), int(bv & 31));
        break;
    case OpKind::Sxt:
        switch (a & 7) {
        case 0:
            r = uint64_t(int64_t(int8_t(bv)));
            break;
        case 1:
            r = uint64_t(int64_t(int16_t(bv)));
            break;
        case 2:
        case 3:
            r = uint64_t(int64_t(int32_t(uint32_t(bv))));
            break;
        case 4:
            r = uint8_t(bv);
            break;
        case 5:
            r = uint16_t(bv);
            break;
        default:
            r = uint32_t(bv);
        }
        break;
    case OpKind::Merge:
        r = predCond(op.mrgc, preds0) ? bv : a;
        break;
    case OpKind::Getf: {
        // src2: offset 5:0, length 11:6, sign 12, byte 15:13 (getfs: 14:13). The sign is
        // bit byte*8 + ((offset + length - 1) & 7) of src1 (elbrus-v3 and older; the suite's
        // int/getfd-1 shows it for lengths where that is not the field's top bit).
        const unsigned width = wide ? 64 : 32;
        const unsigned off = bv & (width - 1), len = (bv >> 6) & (width - 1);
        const unsigned byte = (bv >> 13) & (wide ? 7 : 3);
        const uint64_t v = wide ? std::rotr(a, int(off)) : std::rotr(uint32_t(a), int(off));
        const uint64_t mask = (uint64_t(1) << len) - 1;
        r = v & mask;
        const unsigned signBit = byte * 8 + ((off + len - 1) & 7);
        if (((bv >> 12) & 1) && ((a >> signBit) & 1))
            r |= wide ? ~mask : uint32_t(~mask);
        break;
    }
    case OpKind::Insf: {
        // src1 rotated right by the offset, its low `length` bits replaced by src3's
        // (the suite's int/insfd-1).
        const unsigned width = wide ? 64 : 32;
        const unsigned off = bv & (width - 1), len = (bv >> 6) & (width - 1);
        const uint64_t mask = (uint64_t(1) << len) - 1;
        const uint64_t v = wide ? std::rotr(a, int(off)) : std::rotr(uint32_t(a), int(off));
        r = (v & ~mask) | (readOperand(op.src3) & mask);
        break;
    }
    case OpKind::Cmp:
    case OpKind::CmpAnd: {
        bool res = compare(op.kind, op.info->src1Wide, op.info->cmpop, a, bv);
        unsigned p = physPred(op.dst);
        if (res) {
            pd.predSet |= 1u << p;
            pd.predClear &= ~(1u << p);
        } else {
            pd.predClear |= 1u << p;
            pd.predSet &= ~(1u << p);
        }
        return false;
    }
    case OpKind::Mul:
        r = wide ? a * bv : uint32_t(uint32_t(a) * uint32_t(bv));
        break;
    case OpKind::UMulX:
        r = uint64_t(uint32_t(a)) * uint32_t(bv);
        break;
    case OpKind::SMulX:
        r = uint64_t(int64_t(int32_t(uint32_t(a))) * int32_t(uint32_t(bv)));
        break;
    case OpKind::UMulHd:
        r = uint64_t((UInt128(a) * UInt128(bv)) >> 64);
        break;
    case OpKind::SMulHd:
        r = uint64_t((Int128(int64_t(a)) * Int128(int64_t(bv))) >> 64);
        break;
    case OpKind::UDiv:
    case OpKind::SDiv:
    case OpKind::UDivX:
    case OpKind::UModX:
    case OpKind::SDivX:
    case OpKind::SModX: {
        bool wideDivisor = wide && (op.kind == OpKind::UDiv || op.kind == OpKind::SDiv);
        uint64_t d = wideDivisor ? bv : uint32_t(bv);
        if (d == 0) {
            if (op.sm) {
                r = kDiagValue;
                diag_ = true;
                break;
            }
            throw GuestException(ExcNum::Div, "division by zero", uint8_t(1u << op.channel));
        }
        switch (op.kind) {
        case OpKind::UDiv:
            r = wide ? a / d : uint32_t(a) / uint32_t(d);
            break;
        case OpKind::SDiv:
            if (wide) {
                int64_t x = int64_t(a), y = int64_t(d);
                r = (y == -1) ? uint64_t(0) - a : uint64_t(x / y);
            } else {
                int32_t x = int32_t(uint32_t(a)), y = int32_t(uint32_t(d));
                r = uint32_t(y == -1 ? uint32_t(0) - uint32_t(x) : uint32_t(x / y));
            }
            break;
        case OpKind::UDivX:
            r = uint32_t(a / d);
            break;
        case OpKind::UModX:
            r = uint32_t(a % d);
            break;
        case OpKind::SDivX: {
            int64_t y = int32_t(uint32_t(d));
            r = y == -1 ? uint32_t(0 - a) : uint32_t(uint64_t(int64_t(a) / y));
            break;
        }
        default: {
            int64_t y = int32_t(uint32_t(d));
            r = y == -1 ? 0 : uint32_t(uint64_t(int64_t(a) % y));
            break;
        }
        }
        break;
    }
    case OpKind::Mov:
        r = bv;
        break;
    case OpKind::Bitrev: {
        uint64_t x = wide ? bv : uint32_t(bv);
        uint64_t y = 0;
        for (unsigned k = 0; k < 64; ++k)
            y |= ((x >> k) & 1) << (63 - k);
        r = wide ? y : y >> 32;
        break;
    }
    case OpKind::Lzcnt:
        r = wide ? unsigned(std::countl_zero(bv)) : unsigned(std::countl_zero(uint32_t(bv)));
        break;
    case OpKind::Popcnt:
        r = wide ? unsigned(std::popcount(bv)) : unsigned(std::popcount(uint32_t(bv)));
        break;
    case OpKind::Load: {
        const uint64_t addr = a + bv;
        const unsigned size = op.info->memSize;
        if ((addr & (size - 1)) && !(op.mas & 0x10) && (s_.upsr & kUpsrAc)) {
            if (op.sm) {
                r = kDiagValue;
                diag_ = true;
                break;
            }
            throw GuestException(ExcNum::AddrNotAligned,
                                 std::string(op.info->name) + " at " + hex(addr),
                                 uint8_t(1u << op.channel));
        }
        try {
            r = mem_.load(addr, size, op.mas);
        } catch (const GuestException& e) {
            if (!op.sm)
                throw GuestException(e.num(), e.what(), uint8_t(1u << op.channel));
            r = kDiagValue;
            diag_ = true;
            break;
        }
        if (op.mas & 0x08)
            r = bswap(r, size);
        break;
    }
    case OpKind::Store:
        // Pipelined loop: no stores in the prologue, nor past the epilogue unless LSR.strmd
        // keeps them (the suite's lsr/strmd-1 and loop/loop-1, on hardware).
        if (b.loopMode &&
            (s_.pcnt != 0 || (s_.vlc && s_.lcnt == 0 && s_.ecnt == 0 && s_.strmd == 0)))
            return false;
        prepareStore(op, a, bv, pd.stores[pd.nStores++]);
        return false;
    case OpKind::Staa:
    case OpKind::Ldaa: {
        // a = ALS 23:8: 9:8 literal, 10 incr (staa) / register kind (aaurw, with 11),
        // 14:12 %aaincr, 18:15 %aasti/%aaind/%aaincr index, 23:19 %aad; bv = the literal.
        const auto& aau = s_.aau;
        const unsigned aaopc = (a >> 2) & 3, incr = (a >> 4) & 7, ind = (a >> 7) & 15,
                       aad = (a >> 11) & 31;
        const unsigned size = op.info->memSize;
        if (op.mas == 0x3F) { // aaurw* / aaurr*: only 32- and 64-bit forms do anything
            const AauReg reg = AauReg(aaopc);
            const unsigned index = reg == AauReg::Aad ? aad : ind;
            if (op.kind == OpKind::Ldaa) {
                r = size >= 4 ? aau.read(reg, index, size == 8) : 0;
                return true;
            }
            if (size >= 4)
                pd.aau[pd.nAau++] = {reg, uint8_t(index), size == 8, false, readOperand(op.src3)};
            return false;
        }
        if (op.mas & 7) // special MAS (other than aaurw/aaurr)
            throw GuestException(ExcNum::IllegalOpcode,
                                 std::string(op.info->name) + ": unsupported MAS " + hex(op.mas),
                                 uint8_t(1u << op.channel));
        const uint64_t addr = aau.aadBase(aad) + aau.aasti[ind] + bv;
        if (op.kind == OpKind::Ldaa) {
            DecodedOp plain = op;
            plain.kind = OpKind::Load;
            return computeOp(b, plain, addr, 0, preds0, pd, r);
        }
        if (b.loopMode &&
            (s_.pcnt != 0 || (s_.vlc && s_.lcnt == 0 && s_.ecnt == 0 && s_.strmd == 0)))
            return false;
        prepareStore(op, addr, 0, pd.stores[pd.nStores++]);
        if (aaopc & 1) { // incr: %aasti += %aaincr scaled by the element size
            const unsigned shift = unsigned(std::countr_zero(size));
            pd.aau[pd.nAau++] = {AauReg::Aasti, uint8_t(ind), false, true,
                                 uint64_t(aau.aaincr[incr]) << shift};
        }
        return false;
    }
    case OpKind::Getsp: {
        int64_t delta = int64_t(int32_t(uint32_t(bv))) & ~int64_t(15);
        uint64_t base = pd.usdWrite ? pd.usdBase : s_.usdBase;
        uint64_t size = pd.usdWrite ? pd.usdSize : s_.usdSize;
        pd.usdWrite = true;
        pd.usdBase = base + uint64_t(delta);
        pd.usdSize = size - uint64_t(delta);
        r = pd.usdBase;
        break;
    }
    case OpKind::Rr:
        r = readStateReg(uint8_t(op.src1.imm));
        break;
    case OpKind::Rw: {
        uint8_t n = op.dst;
        bool user = n == 0x80 || n == 0x83 || n == 0x87 || (n >= 0x15 && n <= 0x17);
        if (!user && !(s_.psr & 1))
            throw GuestException(ExcNum::PrivAction, "write of privileged state register " + hex(n),
                                 1);
        if (!stateRegName(n) || n == 0x81 || n == 0x8a || n == 0x90 || n == 0x92)
            throw GuestException(ExcNum::IllegalOpcode,
                                 "write of unsupported state register " + hex(n), 1);
        pd.stateWrite = true;
        pd.stateReg = n;
        pd.stateValue = op.info->src2Wide ? bv : uint32_t(bv);
        return false;
    }
    case OpKind::Getpl:
        throw GuestException(ExcNum::IllegalOpcode, "getpl needs protected mode",
                             uint8_t(1u << op.channel));
    case OpKind::GetTag:
        r = operandTag(op.src2, op.info->src2Wide);
        break;
    case OpKind::PutTag: // the tag itself is written by execute()
        r = a;
        break;
    case OpKind::MovIf:
        r = a;
        extOut_ = uint16_t(bv);
        break;
    case OpKind::MovFi:
        r = operandExt(op.src2);
        break;
    case OpKind::FxAdd:
    case OpKind::FxSub:
    case OpKind::FxMul: {
        const long double x = toF80(a, operandExt(op.src1)), y = toF80(bv, operandExt(op.src2));
        const long double z = op.kind == OpKind::FxAdd   ? x + y
                              : op.kind == OpKind::FxSub ? x - y
                                                         : x * y;
        r = fromF80(z, extOut_);
        break;
    }
    }
    return true;
}

void Cpu::execute(const DecodedBundle& b) {
    if (b.illegal) [[unlikely]]
        throw GuestException(ExcNum::IllegalOpcode, b.illegalReason, b.illegalChannels);
    const unsigned wdSize = b.setwd ? 2u * b.wsz : s_.wdSize;
    if (b.setwd && wdSize < s_.wdPsize)
        throwSetwdBelowParameters(wdSize);
    if (b.needWindow > wdSize) [[unlikely]]
        throwWindowBounds(b.needWindow, wdSize);
    if (b.needBased) {
        unsigned span = 2 * (s_.rsz + 1);
        if (b.needBased > span || 2 * s_.rbs + span > wdSize)
            throw GuestException(ExcNum::WindowBounds,
                                 "%b[" + std::to_string(b.needBased - 1) +
                                     "] outside the based area or the window");
    }
    const uint32_t preds0 = s_.preds;
    const uint32_t predTags0 = s_.predTags;
    const bool tagged = s_.tagsLive;
    Pending pd;
    pd.ctpr[1] = s_.ctpr[1];
    pd.ctpr[2] = s_.ctpr[2];
    pd.ctpr[3] = s_.ctpr[3];
    uint64_t returnTarget = 0;
    switch (b.cs0) {
    case Cs0Kind::Disp:
        pd.ctpr[b.cs0Ctpr] = makeCtpr(b.cs0Value, kCtprLocal);
        break;
    case Cs0Kind::Ldisp:
        pd.ctpr[2] = makeCtpr(b.cs0Value, kCtprLocal, kCtprOpcLdisp);
        break;
    case Cs0Kind::Sdisp: {
        uint64_t base = userMode_ ? kFakeTrapTable : (s_.oscudLo & kAddrMask);
        pd.ctpr[b.cs0Ctpr] = makeCtpr(base + b.cs0Value * 0x800, kCtprSystem);
        break;
    }
    case Cs0Kind::Return:
        returnTarget = topChainRecord(1) & ~uint64_t(7);
        pd.ctpr[3] = makeCtpr(returnTarget, kCtprProcLabel, 3);
        break;
    default:
        break;
    }

    Transfer xfer = Transfer::None;
    uint64_t target = 0;
    bool cond = false;
    // Decides the control transfer and validates it before anything is committed.
    auto decide = [&] {
        if (tagged) [[unlikely]]
            checkTransferPredicate(b.ctcond, preds0);
        // Control transfer: decide and validate before anything is committed.
        switch (b.ctcond >> 5) {
        case 0:
            cond = false;
            break;
        case 1:
            cond = true;
            break;
        case 2:
            cond = (preds0 >> physPred(b.ctcond & 0x1F)) & 1;
            break;
        case 3:
            cond = !((preds0 >> physPred(b.ctcond & 0x1F)) & 1);
            break;
        default:
            cond = ctCondition(b.ctcond, preds0);
        }
        if (cond) {
            if (b.cs0 == Cs0Kind::Ibranch) {
                xfer = Transfer::Jump;
                target = b.cs0Value;
            } else if (b.cs0 == Cs0Kind::Done) {
                if (!(s_.psr & 1))
                    throw GuestException(ExcNum::PrivAction, "done in user mode");
                if (s_.pcspInd < 32)
                    throw GuestException(ExcNum::ChainStackBounds,
                                         "done with an empty chain stack");
                xfer = Transfer::Done;
            } else if (b.ctop) {
                uint64_t c = pd.ctpr[b.ctop];
                target = c & kAddrMask;
                xfer = ctprTransfer(b, c, b.call);
            }
        }
    };
    // A compare's result goes to its predicate when the bundle commits.
    auto notePredicate = [&](const DecodedOp& op, uint64_t a, uint64_t bv) {
        const bool res =
            compare(OpKind::Cmp, ExecCode(op.code) == ExecCode::CmpD, op.info->cmpop, a, bv);
        const uint32_t bit = 1u << physPred(op.dst);
        if (res) {
            pd.predSet |= bit;
            pd.predClear &= ~bit;
        } else {
            pd.predClear |= bit;
            pd.predSet &= ~bit;
        }
    };
    uint64_t vals[6];
    uint8_t valTags[6] = {};
    uint16_t valExt[6];
    unsigned extMask = 0; // ops whose result has an 80-bit ext part
    bool newTags = false;
    unsigned writeMask = 0;
    DamAccess damAcc[6];
    unsigned nDam = 0;
    mlock_ = false;
    if (b.inPlace && !tagged) {
        // No op here can fault and none reads another's result: decide the transfer first
        // (it may fault), then write each result as soon as it is computed.
        decide();
        const int n = b.nOps, step = b.inPlace == 1 ? 1 : -1;
        for (int k = 0, i = step > 0 ? 0 : n - 1; k < n; ++k, i += step) {
            const DecodedOp& op = b.ops[i];
            if (op.nConds) {
                bool enabled = true;
                for (unsigned c = 0; c < op.nConds; ++c)
                    enabled &= predCond(op.conds[c], preds0);
                if (!enabled)
                    continue;
            }
            const uint64_t a = *op.p1, bv = *op.p2;
            uint64_t r;
            if (!inlineAlu(ExecCode(op.code), a, bv, r)) { // CmpD / CmpS
                notePredicate(op, a, bv);
                continue;
            }
            uint64_t* dst = op.pdst;
            if (!dst)
                continue; // %empty
            if (op.write64)
                *dst = r;
            else if (s_.wdDbl)
                *dst = uint32_t(r);
            else
                *dst = (*dst & 0xFFFFFFFF00000000ull) | uint32_t(r);
        }
    } else
        for (unsigned i = 0; i < b.nOps; ++i) {
            const DecodedOp& op = b.ops[i];
            bool condDiag = false; // enabled by a diagnostic predicate (speculative op)
            if (op.nConds) {
                bool enabled = true;
                for (unsigned c = 0; c < op.nConds; ++c) {
                    const PredCond& pc = op.conds[c];
                    if (tagged && pc.kind == PredCond::Pred && predTagged(pc.index)) {
                        condDiag = true;
                        continue;
                    }
                    enabled &= predCond(pc, preds0);
                }
                if (!enabled)
                    continue;
                if (condDiag &&
                    (!op.sm || op.dstType == DstType::Ctpr || op.dstType == DstType::State))
                    throw GuestException(ExcNum::IllegalOperand,
                                         std::string(op.info->name) +
                                             " under a diagnostic predicate",
                                         uint8_t(1u << op.channel));
            }
            const uint64_t a = op.p1 ? *op.p1 : readOperand(op.src1);
            const uint64_t bv = op.p2 ? *op.p2 : readOperand(op.src2);
            const uint8_t srcTag = tagged ? sourceTag(op, preds0) : 0;
            diag_ = false;
            const unsigned storesBefore = pd.nStores;
            uint64_t r = 0;
            bool hasResult = true;
            if (!inlineAlu(ExecCode(op.code), a, bv, r))
                switch (ExecCode(op.code)) {
                case ExecCode::CmpD:
                case ExecCode::CmpS:
                    notePredicate(op, a, bv);
                    hasResult = false;
                    break;
                case ExecCode::LoadD: {
                    const uint64_t addr = a + bv;
                    if ((addr & 7) || !mem_.inRam(addr, 8)) {
                        hasResult = computeOp(b, op, a, bv, preds0, pd, r);
                        break;
                    }
                    r = mem_.load(addr, 8);
                    break;
                }
                default:
                    hasResult = computeOp(b, op, a, bv, preds0, pd, r);
                    if (op.kind == OpKind::Load && ((op.mas & 7) == 3 || (op.mas & 7) == 4) &&
                        !diag_) [[unlikely]]
                        damAcc[nDam++] = {a + bv, op.info->memSize, (op.mas & 7) == 3};
                }
            if ((tagged || diag_ || op.kind == OpKind::PutTag) && op.info) [[unlikely]] {
                const bool bad = srcTag || diag_ || condDiag;
                if (op.dstType == DstType::Pred) {
                    const uint32_t bit = 1u << physPred(op.dst);
                    pd.predTagSet = bad ? pd.predTagSet | bit : pd.predTagSet & ~bit;
                    pd.predTagClear = bad ? pd.predTagClear & ~bit : pd.predTagClear | bit;
                } else if (op.kind == OpKind::Store) {
                    if (condDiag && pd.nStores > storesBefore) {
                        PendingStore& st = pd.stores[pd.nStores - 1];
                        st.value |= kDiagPattern;
                        if (st.size < 8)
                            st.value &= (uint64_t(1) << (8 * st.size)) - 1;
                    }
                } else if (hasResult) {
                    const bool w64 = op.write64;
                    uint8_t t = 0;
                    if (op.kind == OpKind::PutTag)
                        t = uint8_t(bv) & (op.info->dstWide ? 0xF : 0x3);
                    else if (op.kind == OpKind::Mov)
                        t = srcTag;
                    else if (op.kind != OpKind::GetTag && bad)
                        t = w64 ? 5 : 1;
                    if (condDiag) {
                        r |= w64 ? kDiagPattern : uint32_t(kDiagPattern);
                        t = w64 ? 5 : 1;
                    }
                    valTags[i] = t;
                    newTags |= t != 0;
                }
            }
            if (!hasResult)
                continue;
            if (op.kind == OpKind::MovIf || op.kind == OpKind::FxAdd || op.kind == OpKind::FxSub ||
                op.kind == OpKind::FxMul) {
                valExt[i] = extOut_;
                extMask |= 1u << i;
            }
            vals[i] = r;
            writeMask |= 1u << i;
            if (!op.pdst && op.dstType == DstType::Ctpr)
                pd.ctpr[op.dst] = makeCtpr(r, kCtprLocal);
        }

    if ((nDam | s_.damCount) != 0) [[unlikely]]
        mlock_ = damCheck(damAcc, nDam, pd);
    if (!b.inPlace || tagged)
        decide();
    uint64_t movaVals[4];
    uint8_t movaTags[4] = {};
    uint64_t program[ArrayAccessUnit::kAreas][2];
    unsigned programSize = 0;
    if (b.aau) [[unlikely]] {
        readMovas(b, movaVals, movaTags);
        if (b.bap)
            programSize = readPrefetchProgram(program);
    }
    // ---- commit ----
    if (b.setwd) {
        s_.wdSize = wdSize;
        s_.wdDbl = b.dbl;
    }
    s_.ctpr[1] = pd.ctpr[1];
    s_.ctpr[2] = pd.ctpr[2];
    s_.ctpr[3] = pd.ctpr[3];
    for (unsigned m = writeMask; m; m &= m - 1) {
        const unsigned i = unsigned(std::countr_zero(m));
        const DecodedOp& op = b.ops[i];
        uint64_t* dst = op.pdst;
        if (!dst) {
            if (op.dstType != DstType::Based)
                continue;
            dst = &s_.regs[basedSlot(op.dst)];
        }
        const uint64_t v = vals[i];
        if (tagged || newTags) [[unlikely]]
            writeTag(unsigned(dst - s_.regs), valTags[i], op.write64);
        if (extMask & (1u << i)) [[unlikely]] {
            s_.ext[dst - s_.regs] = valExt[i];
            s_.extLive = true;
        }
        if (op.write64)
            *dst = v;
        else if (s_.wdDbl)
            *dst = uint32_t(v);
        else
            *dst = (*dst & 0xFFFFFFFF00000000ull) | uint32_t(v);
    }
    s_.preds = (s_.preds | pd.predSet) & ~pd.predClear;
    s_.predTags = (s_.predTags | pd.predTagSet) & ~pd.predTagClear;
    for (unsigned i = 0; i < pd.nStores; ++i) {
        const auto& st = pd.stores[i];
        mem_.store(st.addr, st.size, st.value, st.mas);
    }
    if ((nDam | s_.damCount) != 0) [[unlikely]]
        damCommit(damAcc, nDam, pd);
    if (b.aau) [[unlikely]] {
        ArrayAccessUnit& aau = s_.aau;
        for (unsigned i = 0; i < pd.nAau; ++i) {
            const auto& w = pd.aau[i];
            if (w.add)
                aau.aasti[w.index & 15] += uint32_t(w.value);
            else
                aau.write(w.reg, w.index, w.value, w.wide);
        }
        for (unsigned i = 0; i < b.nMova; ++i) {
            const DecodedMova& m = b.mova[i];
            if (m.dstType == DstType::Empty)
                continue;
            const unsigned slot = m.dstType == DstType::Based ? basedSlot(m.dst) : m.dst;
            s_.regs[slot] = movaVals[i];
            writeTag(slot, movaTags[i], true);
            newTags |= movaTags[i] != 0;
        }
        // am: each area moves on once per bundle (MOVA channels 0/1 and 2/3 share areas)
        for (unsigned i = 0; i < b.nMova; ++i) {
            const DecodedMova& m = b.mova[i];
            bool done = false;
            for (unsigned j = 0; j < i; ++j)
                done |= b.mova[j].am && b.mova[j].area == m.area &&
                        (b.mova[j].channel >> 1) == (m.channel >> 1);
            if (m.am && !done)
                aau.advance(m.channel, m.area);
        }
        if (b.bap)
            aau.loadProgram(program, programSize);
    }
    if (pd.usdWrite) {
        s_.usdBase = pd.usdBase;
        s_.usdSize = pd.usdSize;
    }
    if (pd.stateWrite)
        writeStateReg(pd.stateReg, pd.stateValue);

    if (b.nPls) {
        const DecodedPls& p = b.pls;
        bool lp[7] = {}, lt[7] = {}; // local predicates: value, diagnostic
        for (unsigned e = 0; e < 4; ++e) {
            if (!p.elpUsed[e])
                continue;
            uint8_t src = p.elp[e];
            lp[e] = src == 0 ? s_.lcnt == 0 : ((preds0 >> physPred(src & 0x1F)) & 1);
            lt[e] = src != 0 && ((predTags0 >> physPred(src & 0x1F)) & 1);
        }
        // andp: diagnostic if either input is; landp: a plain false first input decides alone;
        // movep: a plain false condition writes nothing (the suite's plu tests, on hardware).
        for (unsigned i = 0; i < b.nPls; ++i) {
            const bool v0 = lp[p.p0[i]] != p.neg0[i], v1 = lp[p.p1[i]] != p.neg1[i];
            const bool t0 = lt[p.p0[i]], t1 = lt[p.p1[i]];
            const bool plainFalse = !v0 && !t0;
            bool write = p.vdst[i];
            if (p.clpOpc[i] == 3) {
                lp[4 + i] = plainFalse ? false : v1;
                lt[4 + i] = !plainFalse && (t0 || t1);
                write &= !plainFalse;
            } else if (p.clpOpc[i] == 1 && plainFalse) {
                lp[4 + i] = false;
                lt[4 + i] = false;
            } else {
                lp[4 + i] = v0 && v1;
                lt[4 + i] = t0 || t1;
            }
            if (write) {
                setPred(p.pdst[i], lp[4 + i]);
                const uint32_t bit = 1u << physPred(p.pdst[i]);
                s_.predTags = lt[4 + i] ? s_.predTags | bit : s_.predTags & ~bit;
                if (lt[4 + i])
                    newTags = true;
            }
        }
    }

    if (b.setbn) {
        s_.rbs = b.rbs;
        s_.rsz = b.rsz;
        s_.rcur = b.rcur;
    }
    if (b.setbp) {
        s_.psz = b.psz;
        s_.pcur = 0;
    }
    auto fires = [cond](uint8_t stub) { return ((stub & 1) && cond) || ((stub & 2) && !cond); };
    if (b.alc && fires(b.alc)) {
        if (s_.pcnt)
            --s_.pcnt;
        if (s_.lcnt)
            --s_.lcnt;
        s_.over = s_.lcnt == 0;
        if (s_.lcnt == 0 && s_.vlc && s_.ecnt)
            --s_.ecnt;
    }
    if (b.abn && fires(b.abn))
        s_.rcur = (s_.rcur + s_.rsz) % (s_.rsz + 1);
    if (b.abp && fires(b.abp))
        s_.pcur = (s_.pcur + s_.psz) % (s_.psz + 1);

    ++s_.bundles;
    s_.ops += b.nOps;
    const bool waitTrap = b.waitTrap;
    finishTransfer(b, xfer, target);
    if (tagged || newTags) [[unlikely]]
        refreshTagsLive();
    if (waitTrap && pendingStop_.reason == StopReason::None) {
        pendingStop_.reason = StopReason::Wait;
        pendingStop_.ip = b.ip;
    }
    if (mem_.takeCodeDirty()) [[unlikely]]
        flushDecodeCache();
}

namespace {
bool overlaps(uint64_t a, unsigned an, uint64_t b, unsigned bn) {
    return a < b + bn && b < a + an;
}
} // namespace

bool Cpu::damCheck(const DamAccess* acc, unsigned n, const Pending& pd) const {
    bool mlock = false;
    for (unsigned i = 0; i < n; ++i) {
        if (!acc[i].check)
            continue;
        for (unsigned k = 0; k < s_.damCount; ++k) {
            const CpuState::DamLock& l = s_.dam[k];
            if (!overlaps(l.addr, l.size, acc[i].addr, acc[i].size))
                continue;
            bool hit = l.hit;
            for (unsigned j = 0; j < pd.nStores; ++j)
                hit |= overlaps(l.addr, l.size, pd.stores[j].addr, pd.stores[j].size);
            mlock |= hit;
        }
    }
    return mlock;
}

void Cpu::damCommit(const DamAccess* acc, unsigned n, const Pending& pd) {
    auto& locks = s_.dam;
    unsigned count = s_.damCount;
    for (unsigned k = 0; k < count; ++k)
        for (unsigned j = 0; j < pd.nStores; ++j)
            locks[k].hit |=
                overlaps(locks[k].addr, locks[k].size, pd.stores[j].addr, pd.stores[j].size);
    // Checks unlock; new locks replace the ones they overlap (the oldest goes when full).
    for (unsigned i = 0; i < n; ++i) {
        unsigned keep = 0;
        for (unsigned k = 0; k < count; ++k)
            if (!overlaps(locks[k].addr, locks[k].size, acc[i].addr, acc[i].size))
                locks[keep++] = locks[k];
        count = keep;
        if (acc[i].check)
            continue;
        if (count == CpuState::kDamLocks) {
            for (unsigned k = 1; k < count; ++k)
                locks[k - 1] = locks[k];
            --count;
        }
        locks[count++] = {acc[i].addr, acc[i].size, false};
    }
    s_.damCount = uint8_t(count);
}

void Cpu::readMovas(const DecodedBundle& b, uint64_t* vals, uint8_t* tags) {
    for (unsigned i = 0; i < b.nMova; ++i) {
        const DecodedMova& m = b.mova[i];
        const unsigned size = 1u << (m.opc - 1);
        uint64_t addr = 0;
        // Like a prefetch, MOVA never faults: data it cannot give is a diagnostic value.
        if (s_.aau.movaAddress(m.channel, m.area, m.ind, size, addr) && mem_.inRam(addr, size)) {
            uint64_t v = mem_.load(addr, size);
            vals[i] = m.be ? bswap(v, size) : v;
            tags[i] = 0;
        } else {
            vals[i] = kDiagValue;
            tags[i] = 5;
        }
    }
}

unsigned Cpu::readPrefetchProgram(uint64_t (*words)[2]) {
    const uint64_t c = s_.ctpr[2];
    if (ctprTag(c) != kCtprLocal || ctprOpc(c) != kCtprOpcLdisp)
        throw GuestException(ExcNum::IllegalOpcode, "bap without an ldisp program in %ctpr2");
    const uint64_t base = c & kAddrMask;
    for (unsigned i = 0; i < ArrayAccessUnit::kAreas; ++i) {
        words[i][0] = mem_.load(base + 16 * i, 8);
        words[i][1] = mem_.load(base + 16 * i + 8, 8);
        if (PrefetchInstr{words[i][0]}.ct() || PrefetchInstr{words[i][1]}.ct())
            return i + 1;
    }
    return ArrayAccessUnit::kAreas;
}

// The fast path's in-place ops, in the order FastPlan chose (every operand is read before it
// is overwritten). Conds: whether any of them is predicated.
template <bool Conds>
[[gnu::always_inline]] inline void Cpu::runInPlace(const DecodedBundle& b, uint32_t preds0,
                                                   uint32_t& predMask, uint32_t& predVals) {
    const FastBundle& f = b.fast;
    auto notePredicate = [&](const FastOp& op, bool v) {
        const uint32_t bit = 1u << physPred(op.pred);
        predMask |= bit;
        predVals = (predVals & ~bit) | (v ? bit : 0);
    };
    auto put32 = [this](uint64_t* dst, uint64_t r) {
        *dst = s_.wdDbl ? uint32_t(r) : (*dst & 0xFFFFFFFF00000000ull) | uint32_t(r);
    };
    for (const FastOp *op = f.ops + f.nEarly, *end = f.ops + f.nOps; op != end; ++op) {
        if (Conds && op->cond && !fastCond(op->cond, preds0))
            continue;
        const uint64_t a = *op->p1, bv = *op->p2;
        switch (op->code) {
        case FastCode::AndD:
            *op->dst = fastAlu(FastCode::AndD, a, bv);
            continue;
        case FastCode::AndnD:
            *op->dst = fastAlu(FastCode::AndnD, a, bv);
            continue;
        case FastCode::OrD:
            *op->dst = fastAlu(FastCode::OrD, a, bv);
            continue;
        case FastCode::OrnD:
            *op->dst = fastAlu(FastCode::OrnD, a, bv);
            continue;
        case FastCode::XorD:
            *op->dst = fastAlu(FastCode::XorD, a, bv);
            continue;
        case FastCode::XornD:
            *op->dst = fastAlu(FastCode::XornD, a, bv);
            continue;
        case FastCode::AddD:
            *op->dst = fastAlu(FastCode::AddD, a, bv);
            continue;
        case FastCode::SubD:
            *op->dst = fastAlu(FastCode::SubD, a, bv);
            continue;
        case FastCode::ShlD:
            *op->dst = fastAlu(FastCode::ShlD, a, bv);
            continue;
        case FastCode::ShrD:
            *op->dst = fastAlu(FastCode::ShrD, a, bv);
            continue;
        case FastCode::SarD:
            *op->dst = fastAlu(FastCode::SarD, a, bv);
            continue;
        case FastCode::AndS:
            put32(op->dst, fastAlu(FastCode::AndS, a, bv));
            continue;
        case FastCode::AndnS:
            put32(op->dst, fastAlu(FastCode::AndnS, a, bv));
            continue;
        case FastCode::OrS:
            put32(op->dst, fastAlu(FastCode::OrS, a, bv));
            continue;
        case FastCode::OrnS:
            put32(op->dst, fastAlu(FastCode::OrnS, a, bv));
            continue;
        case FastCode::XorS:
            put32(op->dst, fastAlu(FastCode::XorS, a, bv));
            continue;
        case FastCode::XornS:
            put32(op->dst, fastAlu(FastCode::XornS, a, bv));
            continue;
        case FastCode::AddS:
            put32(op->dst, fastAlu(FastCode::AddS, a, bv));
            continue;
        case FastCode::SubS:
            put32(op->dst, fastAlu(FastCode::SubS, a, bv));
            continue;
        case FastCode::ShlS:
            put32(op->dst, fastAlu(FastCode::ShlS, a, bv));
            continue;
        case FastCode::ShrS:
            put32(op->dst, fastAlu(FastCode::ShrS, a, bv));
            continue;
        case FastCode::SarS:
            put32(op->dst, fastAlu(FastCode::SarS, a, bv));
            continue;
        case FastCode::CmpOD:
            notePredicate(*op, fastCompare(FastCode::CmpOD, a, bv));
            continue;
        case FastCode::CmpBD:
            notePredicate(*op, fastCompare(FastCode::CmpBD, a, bv));
            continue;
        case FastCode::CmpED:
            notePredicate(*op, fastCompare(FastCode::CmpED, a, bv));
            continue;
        case FastCode::CmpBED:
            notePredicate(*op, fastCompare(FastCode::CmpBED, a, bv));
            continue;
        case FastCode::CmpSD:
            notePredicate(*op, fastCompare(FastCode::CmpSD, a, bv));
            continue;
        case FastCode::CmpPD:
            notePredicate(*op, fastCompare(FastCode::CmpPD, a, bv));
            continue;
        case FastCode::CmpLD:
            notePredicate(*op, fastCompare(FastCode::CmpLD, a, bv));
            continue;
        case FastCode::CmpLED:
            notePredicate(*op, fastCompare(FastCode::CmpLED, a, bv));
            continue;
        case FastCode::CmpOS:
            notePredicate(*op, fastCompare(FastCode::CmpOS, a, bv));
            continue;
        case FastCode::CmpBS:
            notePredicate(*op, fastCompare(FastCode::CmpBS, a, bv));
            continue;
        case FastCode::CmpES:
            notePredicate(*op, fastCompare(FastCode::CmpES, a, bv));
            continue;
        case FastCode::CmpBES:
            notePredicate(*op, fastCompare(FastCode::CmpBES, a, bv));
            continue;
        case FastCode::CmpSS:
            notePredicate(*op, fastCompare(FastCode::CmpSS, a, bv));
            continue;
        case FastCode::CmpPS:
            notePredicate(*op, fastCompare(FastCode::CmpPS, a, bv));
            continue;
        case FastCode::CmpLS:
            notePredicate(*op, fastCompare(FastCode::CmpLS, a, bv));
            continue;
        case FastCode::CmpLES:
            notePredicate(*op, fastCompare(FastCode::CmpLES, a, bv));
            continue;
        case FastCode::CmpAnd:
            notePredicate(*op, compare(OpKind::CmpAnd, op->cmp & kFastCmpWide, op->cmp & 7, a, bv));
            continue;
        case FastCode::Pure: {
            const uint64_t r = pureOp(b, *op, a, bv, preds0);
            if (op->write64)
                *op->dst = r;
            else
                put32(op->dst, r);
            continue;
        }
        case FastCode::LoadD: { // address checked by loadsInRam
            uint64_t v;
            if (!mem_.loadRam8(a + bv, v)) [[unlikely]]
                v = mem_.load(a + bv, 8); // unreachable; stays memory-safe regardless
            *op->dst = v;
            continue;
        }
        default: // StoreD, Store, Slow: FastPlan puts these in the first phase only
            __builtin_unreachable();
        }
    }
}

// The in-place ops as InPlaceJit translated them: the same effects as runInPlace.
[[gnu::always_inline]] inline void Cpu::runTranslated(const FastBundle& f, uint32_t preds0,
                                                      uint32_t& predMask, uint32_t& predVals) {
    uint32_t enabled = ~0u;
    if (f.conds)
        for (unsigned k = f.nEarly; k < f.nOps; ++k)
            if (f.ops[k].cond && !fastCond(f.ops[k].cond, preds0))
                enabled &= ~(1u << k);
    const uint32_t bits = f.jit(s_.regs, mem_.ramBase(), s_.wdDbl, enabled);
    if (!f.conds && s_.pcur == 0) { // every compare ran, into unrotated predicates
        predMask |= f.jitPredMask;
        predVals = (predVals & ~f.jitPredMask) | bits;
        return;
    }
    for (unsigned j = 0; j < f.nJitCmps; ++j) {
        const FastOp& op = f.ops[f.jitCmpOp[j]];
        if (!((enabled >> f.jitCmpOp[j]) & 1))
            continue;
        const uint32_t bit = 1u << physPred(op.pred);
        predMask |= bit;
        predVals = (predVals & ~bit) | (((bits >> op.pred) & 1) ? bit : 0);
    }
}

// The fast path (see FastPlan.h): the same bundle semantics as execute() for the bundles
// planFastPath accepts: faulting ops first (results deferred), then the transfer decision,
// then the in-place ops, then the commit in execute()'s order.
template <bool Rare> [[gnu::always_inline]] inline void Cpu::executeFast(const DecodedBundle& b) {
    const FastBundle& f = b.fast;
    unsigned wdSize = s_.wdSize;
    if (Rare && b.setwd) {
        wdSize = 2u * b.wsz;
        if (wdSize < s_.wdPsize)
            throwSetwdBelowParameters(wdSize);
    }
    if (b.needWindow > wdSize) [[unlikely]]
        throwWindowBounds(b.needWindow, wdSize);
    const uint32_t preds0 = s_.preds;
    if (f.checkLoads && !(f.jitLoadCheck ? mem_.ramSize() >= mem_.ramLow() + 8 &&
                                               f.jitLoadCheck(s_.regs, mem_.ramLow(),
                                                              mem_.ramSize() - 8 - mem_.ramLow())
                                         : loadsInRam(f, preds0))) [[unlikely]]
        return execute(b); // a load faults or goes to a device: the general path orders it
    uint64_t newCtpr = 0;
    if (f.cs0WritesCtpr)
        newCtpr = cs0Ctpr(b);
    FastResults res;
    res.deferred = 0;
    res.nStores = 0;
    res.predMask = 0;
    res.predVals = 0;
    if (f.nEarly && !runEarly(b, preds0, res)) [[unlikely]]
        return execute(b); // a speculative op's result is diagnostic: tags need that path

    // Control transfer: decided (and validated) before anything is written.
    Transfer xfer = Transfer::None;
    uint64_t target = 0;
    if (f.ctMode) {
        const bool cond =
            f.ctMode == 1 || (((preds0 >> physPred(f.ctPred)) & 1) != (f.ctMode == 3));
        if (cond) {
            if (b.cs0 == Cs0Kind::Ibranch) {
                xfer = Transfer::Jump;
                target = b.cs0Value;
            } else {
                const uint64_t c =
                    f.cs0WritesCtpr && b.cs0Ctpr == b.ctop ? newCtpr : s_.ctpr[b.ctop];
                target = c & kAddrMask;
                xfer = ctprTransfer(b, c, Rare && b.call);
            }
        }
    }

    if (Rare && b.setwd) { // nothing can fault any more; this bundle's results see the new dbl
        s_.wdSize = wdSize;
        s_.wdDbl = b.dbl;
    }
    uint32_t predMask = res.predMask, predVals = res.predVals;
    if (f.jit)
        runTranslated(f, preds0, predMask, predVals);
    else if (f.conds)
        runInPlace<true>(b, preds0, predMask, predVals);
    else
        runInPlace<false>(b, preds0, predMask, predVals);

    // ---- commit (execute()'s order: CTPR, registers, predicates, memory) ----
    if (f.cs0WritesCtpr)
        s_.ctpr[b.cs0Ctpr] = newCtpr;
    if (res.deferred)
        commitDeferred(f, res);
    s_.preds = (s_.preds & ~predMask) | predVals;
    for (unsigned i = 0; i < res.nStores; ++i) {
        const PendingStore& st = res.stores[i];
        mem_.store(st.addr, st.size, st.value, st.mas);
    }
    ++s_.bundles;
    s_.ops += b.nOps;
    finishTransfer(b, xfer, target);
    if (mem_.takeCodeDirty()) [[unlikely]]
        flushDecodeCache();
}

// Whether every enabled in-place load of a fast bundle reads aligned RAM. The operands are
// the ones the load will see: the in-place order reads them before anything overwrites them.
bool Cpu::loadsInRam(const FastBundle& f, uint32_t preds0) const {
    uint64_t bits = 0, top = 0, bottom = ~uint64_t(0);
    bool any = false;
    for (unsigned m = f.checkLoads; m; m &= m - 1) {
        const FastOp& op = f.ops[std::countr_zero(m)];
        if (op.cond && !fastCond(op.cond, preds0))
            continue;
        const uint64_t addr = *op.p1 + *op.p2;
        any = true;
        bits |= addr;
        top = addr > top ? addr : top;
        bottom = addr < bottom ? addr : bottom;
    }
    return !any || (!(bits & 7) && mem_.inRam(top, 8) && mem_.inRam(bottom, 8));
}

// CTPR value that a fast bundle's disp/sdisp/return prepares.
uint64_t Cpu::cs0Ctpr(const DecodedBundle& b) {
    switch (b.cs0) {
    case Cs0Kind::Disp:
        return makeCtpr(b.cs0Value, kCtprLocal);
    case Cs0Kind::Sdisp: {
        const uint64_t base = userMode_ ? kFakeTrapTable : (s_.oscudLo & kAddrMask);
        return makeCtpr(base + b.cs0Value * 0x800, kCtprSystem);
    }
    default: // Return (may fault: empty chain stack)
        return makeCtpr(topChainRecord(1) & ~uint64_t(7), kCtprProcLabel, 3);
    }
}

// A fast op the inline codes do not cover, through the general operation code.
uint64_t Cpu::pureOp(const DecodedBundle& b, const FastOp& op, uint64_t a, uint64_t bv,
                     uint32_t preds0) {
    Pending pd;
    uint64_t r = 0;
    computeOp(b, b.ops[op.op], a, bv, preds0, pd, r);
    return r;
}

// The fast path's first phase: ops that may fault (and, when no in-place order exists, all
// ops), in channel order, before anything is written.
bool Cpu::runEarly(const DecodedBundle& b, uint32_t preds0, FastResults& res) {
    const FastBundle& f = b.fast;
    for (unsigned k = 0; k < f.nEarly; ++k) {
        const FastOp& op = f.ops[k];
        if (op.cond && !fastCond(op.cond, preds0))
            continue;
        const uint64_t a = *op.p1, bv = *op.p2;
        uint64_t r = 0;
        if (op.code <= FastCode::SarS) {
            r = fastAlu(op.code, a, bv);
        } else if (op.code <= FastCode::CmpAnd) {
            const bool v = op.code == FastCode::CmpAnd
                               ? compare(OpKind::CmpAnd, op.cmp & kFastCmpWide, op.cmp & 7, a, bv)
                               : fastCompare(op.code, a, bv);
            const uint32_t bit = 1u << physPred(op.pred);
            res.predMask |= bit;
            res.predVals = (res.predVals & ~bit) | (v ? bit : 0);
            continue;
        } else if (op.code == FastCode::StoreD) {
            const uint64_t addr = a + bv;
            if ((addr & 7) || !mem_.inRam(addr, 8)) [[unlikely]]
                prepareStore(b.ops[op.op], a, bv, res.stores[res.nStores++]);
            else
                res.stores[res.nStores++] = {addr, *op.dst, 8, 0};
            continue;
        } else if (op.code == FastCode::Store) {
            prepareStore(b.ops[op.op], a, bv, res.stores[res.nStores++]);
            continue;
        } else if (op.code != FastCode::LoadD || !mem_.loadRam8(a + bv, r)) {
            Pending pd;
            diag_ = false;
            const bool hasResult = computeOp(b, b.ops[op.op], a, bv, preds0, pd, r);
            if (diag_) [[unlikely]]
                return false;
            if (!hasResult)
                continue;
        }
        res.vals[k] = r;
        res.deferred |= 1u << k;
    }
    return true;
}

void Cpu::commitDeferred(const FastBundle& f, const FastResults& res) {
    for (unsigned m = res.deferred; m; m &= m - 1) {
        const unsigned k = unsigned(std::countr_zero(m));
        const FastOp& op = f.ops[k];
        const uint64_t v = res.vals[k];
        if (op.write64)
            *op.dst = v;
        else if (s_.wdDbl)
            *op.dst = uint32_t(v);
        else
            *op.dst = (*op.dst & 0xFFFFFFFF00000000ull) | uint32_t(v);
    }
}

// Fast bundles with setwd or a call (kept out of the common fast path's code).
[[gnu::noinline]] void Cpu::executeFastRare(const DecodedBundle& b) {
    executeFast<true>(b);
}

[[gnu::always_inline]] inline void Cpu::dispatch(const DecodedBundle& b) {
    if (!b.fast.usable || (s_.tagsLive | (s_.damCount != 0))) [[unlikely]]
        execute(b);
    else if (b.fast.rare) [[unlikely]]
        executeFastRare(b);
    else
        executeFast<false>(b);
}

void Cpu::step() {
    dispatch(fetch(s_.ip));
}

StopInfo Cpu::run(uint64_t maxBundles) {
    pendingStop_ = StopInfo{};
    if (mem_.takeCodeDirty())
        flushDecodeCache();
    const bool ramFits = mem_.ramSize() >= mem_.ramLow() + 8;
    jitRamLow_ = ramFits ? mem_.ramLow() : ~uint64_t(0); // (no address passes then)
    jitRamSpan_ = ramFits ? mem_.ramSize() - 8 - mem_.ramLow() : 0;
    for (uint64_t i = 0; i < maxBundles; ++i) {
        uint64_t ip = s_.ip;
        if (irqLine_.load(std::memory_order_relaxed) && !userMode_ && interruptsEnabled())
            [[unlikely]] {
            try {
                enterTrap(ExcNum::Interrupt, 0, ip); // resumes at `ip` after done
            } catch (const GuestException& e) {
                StopInfo st;
                st.reason = StopReason::Exception;
                st.exc = e.num();
                st.message = std::string("while entering the interrupt handler: ") + e.what();
                st.ip = ip;
                return st;
            }
            ip = s_.ip;
        }
        try {
            const DecodedBundle& b = fetch(ip);
            if (b.fast.whole && !(s_.tagsLive | (s_.damCount != 0))) {
                // Whole-bundle translations, linked: as many bundles as they run on their own.
                const uint64_t n = bundleJit_.run(s_.regs, mem_.ramBase(), maxBundles - i,
                                                  links_.get(), b.fast.whole);
                if (n) {
                    i += n - 1;
                    continue;
                }
            }
            dispatch(b);
        } catch (const GuestException& e) {
            if (userMode_) {
                StopInfo st;
                st.reason = StopReason::Exception;
                st.exc = e.num();
                st.message = e.what();
                st.ip = ip;
                return st;
            }
            if (ip == nestedFaultIp_ && e.num() == nestedFaultExc_) {
                ++nestedFaults_;
            } else {
                nestedFaultIp_ = ip;
                nestedFaultExc_ = e.num();
                nestedFaults_ = 1;
            }
            if (nestedFaults_ >= kMaxNestedFaults) [[unlikely]] {
                StopInfo st;
                st.reason = StopReason::Exception;
                st.exc = e.num();
                st.message = std::string(e.what()) + " (the trap handler faults here itself: " +
                             std::to_string(kMaxNestedFaults) + " nested traps, none returned)";
                st.ip = ip;
                return st;
            }
            try {
                enterTrap(e.num(), e.channels(), ip);
            } catch (const GuestException& e2) {
                StopInfo st;
                st.reason = StopReason::Exception;
                st.exc = e2.num();
                st.message = std::string("while entering the trap handler for ") +
                             excName(e.num()) + ": " + e2.what();
                st.ip = ip;
                return st;
            }
        }
        if (pendingStop_.reason != StopReason::None) [[unlikely]] {
            if (pendingStop_.reason == StopReason::Budget)
                pendingStop_.ip = s_.ip;
            return pendingStop_;
        }
    }
    StopInfo st;
    st.reason = StopReason::Budget;
    st.ip = s_.ip;
    return st;
}

} // namespace e2kvm::emu

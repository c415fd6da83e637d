#include "emu/cpu/InPlaceJit.h"

#include "emu/cpu/X86Emitter.h"

#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define E2KVM_INPLACE_JIT 1
#endif

namespace e2kvm::emu {

namespace {

// Room for every slot of the decoded-bundle cache several times over (pages are only touched
// as code is written); compile() and install() refuse when it is full and the Cpu starts over
// after its next cache flush.
constexpr size_t kAreaSize = 16u << 20;
// Longest code one bundle can take: six ops of at most ~70 bytes, prologue and epilogue.
constexpr size_t kMaxBundleCode = 512;
// What hasRoom() promises: one bundle's in-place code and its install()ed code (ChainJit).
constexpr size_t kRoomPerBundle = kMaxBundleCode + InPlaceJit::kMaxInstall;

#ifdef E2KVM_INPLACE_JIT

using namespace x86;

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
    return !write_ || used_ + kRoomPerBundle <= size_;
}

const uint8_t* InPlaceJit::install(const std::vector<uint8_t>& code) {
#ifdef E2KVM_INPLACE_JIT
    if (code.size() > kMaxInstall || (!write_ && !map()) || used_ + code.size() > size_)
        return nullptr;
    std::memcpy(write_ + used_, code.data(), code.size());
    const uint8_t* entry = exec_ + used_;
    used_ += (code.size() + 15) & ~size_t(15);
    return entry;
#else
    (void)code;
    return nullptr;
#endif
}

InPlaceCode InPlaceJit::compile(DecodedBundle& b, const uint64_t* regs) {
    FastBundle& f = b.fast;
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
        if (!emitInPlaceOp(e, op, b.ops[op.op], regs)) {
            f.nJitCmps = 0;
            f.jitPredMask = 0;
            return nullptr;
        }
        if (op.code >= FastCode::CmpOD && op.code <= FastCode::CmpLES) {
            f.jitCmpOp[nCmps++] = uint8_t(k);
            f.jitPredMask |= 1u << op.pred;
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

#include "emu/user/LinuxProcess.h"

#include "emu/asm/Disassembler.h"
#include "emu/asm/ElfImage.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <unistd.h>

namespace e2kvm::emu {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kMmapBase = 0x40000000, kMmapEnd = 0x68000000;
constexpr uint64_t kPsBase = 0x68000000, kPsSize = 64ull << 20;
constexpr uint64_t kPcsBase = 0x6C000000, kPcsSize = 32ull << 20;
constexpr uint64_t kStackTop = 0x7FFFF000, kStackSize = 8ull << 20;

uint64_t pageUp(uint64_t v) {
    return (v + kPage - 1) & ~(kPage - 1);
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}
} // namespace

int signalForException(ExcNum exc) {
    switch (exc) {
    case ExcNum::Div:
        return SIGFPE;
    case ExcNum::AddrNotAligned:
        return SIGBUS;
    case ExcNum::IllegalOpcode:
    case ExcNum::PrivAction:
    case ExcNum::IllegalOperand:
        return SIGILL;
    default:
        return SIGSEGV;
    }
}

LinuxProcess::LinuxProcess()
    : mem_(std::make_unique<GuestMemory>(kRamSize)), cpu_(std::make_unique<Cpu>(*mem_)) {
    cpu_->setUserMode(true);
    mem_->setLowGuard(kPage);
}

void LinuxProcess::load(const std::vector<uint8_t>& file, const std::string& name,
                        const std::vector<std::string>& argv) {
    ElfExecutable exe = readElf(file, name);
    uint64_t end = 0;
    for (const ElfSegment& s : exe.segments) {
        if (s.vaddr < kPage || s.vaddr + s.memSize > kMmapBase)
            throw std::runtime_error(name + ": segment at " + hex(s.vaddr) +
                                     " outside the user area [0x1000, " + hex(kMmapBase) + ")");
        mem_->write(s.vaddr, s.bytes.data(), s.bytes.size());
        end = std::max(end, s.vaddr + s.memSize);
    }
    brkStart_ = brk_ = pageUp(end);
    mmapNext_ = kMmapBase;
    setupStack(name, argv, exe.entry);
}

void LinuxProcess::setupStack(const std::string& name, const std::vector<std::string>& argv,
                              uint64_t entry) {
    CpuState& s = cpu_->state();
    std::vector<std::string> args = argv;
    if (args.empty())
        args.push_back(name);
    // Strings at the top, then the pointer block (argc, argv, NULL, envp NULL, auxv).
    uint64_t sp = kStackTop;
    std::vector<uint64_t> argPtrs;
    for (const std::string& a : args) {
        sp -= a.size() + 1;
        mem_->write(sp, a.c_str(), a.size() + 1);
        argPtrs.push_back(sp);
    }
    sp &= ~uint64_t(15);
    std::vector<uint64_t> block;
    block.push_back(args.size());
    block.insert(block.end(), argPtrs.begin(), argPtrs.end());
    block.push_back(0);                                 // end of argv
    block.push_back(0);                                 // empty environment
    const uint64_t auxv[] = {6, kPage, 9, entry, 0, 0}; // AT_PAGESZ, AT_ENTRY, AT_NULL
    block.insert(block.end(), std::begin(auxv), std::end(auxv));
    sp -= block.size() * 8;
    sp &= ~uint64_t(15);
    mem_->write(sp, block.data(), block.size() * 8);

    s = CpuState{};
    s.ip = entry;
    s.psr = 0x76; // user mode: ie, sge, uie, nmie, unmie
    s.sbr = kStackTop;
    s.usdBase = sp;
    s.usdSize = kStackTop - sp;
    s.pspBase = kPsBase;
    s.pspSize = kPsSize;
    s.pcspBase = kPcsBase;
    s.pcspSize = kPcsSize;
    (void)kStackSize;
}

int64_t LinuxProcess::syscall(uint64_t nr, const uint64_t* a, ProcessResult& result) {
    switch (nr) {
    case kSysExit:
    case kSysExitGroup:
        result.exited = true;
        result.exitCode = int(a[0] & 0xFF);
        return 0;
    case kSysWrite: {
        uint64_t len = a[2];
        if (len > (64u << 20))
            return -EINVAL;
        if (!mem_->inRam(a[1], len))
            return -EFAULT;
        const uint8_t* p = mem_->ramPointer(a[1], len);
        if (a[0] != 1 && a[0] != 2)
            return -EBADF;
        if (output) {
            output(int(a[0]), p, len);
            return int64_t(len);
        }
        ssize_t n = ::write(int(a[0]), p, len);
        return n < 0 ? -errno : n;
    }
    case kSysRead: {
        uint64_t len = a[2];
        if (len > (64u << 20))
            return -EINVAL;
        if (!mem_->inRam(a[1], len))
            return -EFAULT;
        if (a[0] != 0)
            return -EBADF;
        std::vector<uint8_t> buf(len);
        ssize_t n = ::read(0, buf.data(), len);
        if (n < 0)
            return -errno;
        mem_->write(a[1], buf.data(), uint64_t(n));
        return n;
    }
    case kSysGetpid:
        return ::getpid();
    case kSysBrk: {
        uint64_t want = a[0];
        if (want == 0 || want < brkStart_ || want > kMmapBase)
            return int64_t(brk_);
        if (want < brk_)
            mem_->fill(want, 0, brk_ - want);
        brk_ = want;
        return int64_t(brk_);
    }
    case kSysMmap: {
        // Anonymous private mappings only: addr hint ignored, memory is zeroed.
        uint64_t len = pageUp(a[1]);
        uint64_t flags = a[3];
        const uint64_t kMapAnonymous = 0x20;
        if (len == 0 || !(flags & kMapAnonymous))
            return -EINVAL;
        if (len > kMmapEnd - mmapNext_)
            return -ENOMEM;
        uint64_t addr = mmapNext_;
        mmapNext_ += len;
        return int64_t(addr);
    }
    case kSysMunmap: {
        uint64_t len = pageUp(a[1]);
        if ((a[0] & (kPage - 1)) || a[0] < kMmapBase || len > kMmapEnd - a[0])
            return -EINVAL;
        mem_->fill(a[0], 0, len); // not reused, but reads as zero like a fresh mapping
        return 0;
    }
    case kSysClockGettime: {
        timespec ts{};
        if (clock_gettime(clockid_t(a[0]), &ts) != 0)
            return -errno;
        if (!mem_->inRam(a[1], 16))
            return -EFAULT;
        uint64_t v[2] = {uint64_t(ts.tv_sec), uint64_t(ts.tv_nsec)};
        mem_->write(a[1], v, 16);
        return 0;
    }
    case kSysAccessHwStacks:
        return accessHwStacks(a);
    case kSysRtSigaction: { // (sig, act, oldact, sigsetsize); act = {handler, flags, restorer,
                            // mask}
        const uint64_t sig = a[0];
        if (sig == 0 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
            return -EINVAL;
        if (a[2]) {
            if (!mem_->inRam(a[2], 32))
                return -EFAULT;
            const uint64_t old[4] = {sigHandlers_[sig], 0, 0, 0};
            mem_->write(a[2], old, 32);
        }
        if (a[1]) {
            if (!mem_->inRam(a[1], 32))
                return -EFAULT;
            mem_->read(a[1], &sigHandlers_[sig], 8);
        }
        return 0;
    }
    default:
        return -ENOSYS;
    }
}

// access_hw_stacks(mode, u64* frame, void* buf, u64 size, u64* real_size). The stacks include
// the frame the system call's own `call` spilled, as the kernel sees them at entry.
int64_t LinuxProcess::accessHwStacks(const uint64_t* a) {
    const CpuState& s = cpu_->state();
    const uint64_t mode = a[0], framePtr = a[1], buf = a[2], size = a[3], sizePtr = a[4];
    auto putU64 = [&](uint64_t addr, uint64_t v) -> int64_t {
        if (!mem_->inRam(addr, 8))
            return -EFAULT;
        mem_->write(addr, &v, 8);
        return 0;
    };
    auto getU64 = [&](uint64_t addr, uint64_t& v) {
        if (!mem_->inRam(addr, 8))
            return false;
        mem_->read(addr, &v, 8);
        return true;
    };
    switch (mode) {
    case kGetProcStackSize:
        return putU64(sizePtr, s.pspInd);
    case kGetChainStackSize:
        return putU64(sizePtr, s.pcspInd);
    case kGetChainStackOffset: {
        uint64_t frame = 0;
        if (!getU64(framePtr, frame))
            return -EFAULT;
        if (frame < s.pcspBase || frame > s.pcspBase + s.pcspInd)
            return -EINVAL;
        return putU64(sizePtr, frame - s.pcspBase);
    }
    case kReadProcStackEx:
    case kWriteProcStackEx:
    case kReadChainStackEx:
    case kWriteChainStackEx: {
        const bool chain = mode == kReadChainStackEx || mode == kWriteChainStackEx;
        const bool write = mode == kWriteProcStackEx || mode == kWriteChainStackEx;
        uint64_t offset = 0;
        if (!getU64(framePtr, offset))
            return -EFAULT;
        const uint64_t base = chain ? s.pcspBase : s.pspBase;
        const uint64_t used = chain ? s.pcspInd : s.pspInd;
        // the kernel copies whole tagged dwords: buffer, offset and size are 8-aligned
        // (the suite's syscall/read-ps-ex-unaligned-1 fails on hardware)
        if (offset > used || size > used - offset || ((buf | offset | size) & 7))
            return -EINVAL;
        if (!mem_->inRam(buf, size))
            return -EFAULT;
        std::vector<uint8_t> tmp(size);
        if (write) {
            mem_->read(buf, tmp.data(), size);
            mem_->write(base + offset, tmp.data(), size);
        } else {
            mem_->read(base + offset, tmp.data(), size);
            mem_->write(buf, tmp.data(), size);
        }
        return 0;
    }
    default:
        return -EINVAL;
    }
}

ProcessResult LinuxProcess::run(uint64_t maxBundles) {
    ProcessResult result;
    uint64_t left = maxBundles ? maxBundles : UINT64_MAX;
    for (;;) {
        uint64_t before = cpu_->state().bundles;
        StopInfo st = cpu_->run(std::min<uint64_t>(left, uint64_t(1) << 40));
        uint64_t ran = cpu_->state().bundles - before;
        left = ran >= left ? 0 : left - ran;
        if (st.reason == StopReason::SystemCall) {
            CpuState& s = cpu_->state();
            if (st.entry != 1 && st.entry != 3 && st.entry != 4 && st.entry != 6) {
                result.exitCode = 128 + SIGSEGV;
                result.fault = "call to trap-table entry " + std::to_string(st.entry) + " at IP " +
                               hex(st.ip) + ": not a system call entry";
                return result;
            }
            if (st.entry == 6 || (s.tags[0] & 3)) { // fast calls; a diagnostic number
                s.regs[0] = uint64_t(-int64_t(ENOSYS));
                s.tags[0] = 0;
            } else {
                uint64_t args[6];
                for (int i = 0; i < 6; ++i)
                    args[i] = s.regs[1 + i];
                int64_t r = syscall(s.regs[0], args, result);
                if (result.exited)
                    return result;
                s.regs[0] = uint64_t(r);
                s.tags[0] = 0;
            }
            try {
                cpu_->returnFromCall();
            } catch (const GuestException& e) {
                result.exitCode = 128 + signalForException(e.num());
                result.fault =
                    std::string(excName(e.num())) + " returning from system call: " + e.what();
                return result;
            }
            if (maxBundles && left == 0)
                break;
            continue;
        }
        if (st.reason == StopReason::Exception || st.reason == StopReason::Wait) {
            ExcNum exc = st.reason == StopReason::Wait ? ExcNum::PrivAction : st.exc;
            std::string bundle;
            uint64_t avail = 0;
            if (const uint8_t* p = mem_->fetchPointer(st.ip, avail)) {
                RawBundle raw;
                if (unpackBundle(p, avail, raw)) {
                    bundle = disassembleBundle(raw, st.ip);
                    char buf[16];
                    bundle += "  //";
                    for (uint32_t w : packBundle(raw)) {
                        std::snprintf(buf, sizeof buf, " %08x", w);
                        bundle += buf;
                    }
                }
            }
            const int sig = signalForException(exc);
            if (st.reason == StopReason::Exception && sigHandlers_[sig] > 1) {
                try { // SIG_IGN (1) of a fault still kills, as the kernel's forced signal does
                    cpu_->callHandler(sigHandlers_[sig], st.ip);
                    CpuState& s = cpu_->state();
                    s.regs[0] = uint64_t(sig);
                    s.tags[0] = 0;
                    continue;
                } catch (const GuestException&) {
                    // no room on the stacks for the handler: the process dies
                }
            }
            result.exitCode = 128 + sig;
            result.fault =
                std::string(excName(exc)) + " at IP " + hex(st.ip) + ": " +
                (st.reason == StopReason::Wait ? "wait trap=1 in user mode" : st.message) +
                (bundle.empty() ? "" : "\n  bundle: " + bundle);
            return result;
        }
        if (st.reason == StopReason::Budget && maxBundles && left == 0)
            break;
    }
    result.exitCode = 128 + SIGXCPU;
    result.fault = "bundle budget exhausted";
    return result;
}

} // namespace e2kvm::emu

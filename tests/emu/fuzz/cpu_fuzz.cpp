// libFuzzer target: random bytes as E2K code, decoded and executed in a sandbox (user mode and
// system mode with trap entry), plus disassembly and re-assembly of every bundle. Must never
// crash, hang or touch host memory; guest faults are expected. A second sandbox runs the same
// code with the interpreter's fast path off: both must end in the same state.
#include "emu/asm/AsmError.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/Disassembler.h"
#include "emu/cpu/Bundle.h"
#include "emu/cpu/Cpu.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

using namespace e2kvm::emu;

namespace {
struct Sandbox {
    GuestMemory mem{16ull << 20};
    Cpu cpu{mem};
};
} // namespace

namespace {
constexpr uint64_t kBase = 0x10000;

StopInfo runIn(Sandbox& sb, int mode) {
    CpuState& s = sb.cpu.state();
    s = CpuState{};
    s.ip = kBase;
    s.wdSize = 32;
    s.psr = mode ? 1 : 0;
    s.oscudLo = kBase;
    s.sbr = s.usdBase = 0x800000;
    s.pspBase = 0x400000;
    s.pspSize = 0x100000;
    s.pcspBase = 0x600000;
    s.pcspSize = 0x100000;
    for (unsigned i = 0; i < 256; ++i)
        s.regs[i] = i * 0x9E3779B97F4A7C15ull;
    sb.cpu.setUserMode(mode == 0);
    sb.cpu.flushDecodeCache();
    return sb.cpu.run(256);
}

[[noreturn]] void mismatch(const char* what) {
    std::fprintf(stderr, "cpu_fuzz: fast and general path disagree on %s\n", what);
    std::abort();
}

// The fast-path sandbox against the general-path one: state, stop and the memory they touch.
void compare(Sandbox& fast, Sandbox& general, const StopInfo& a, const StopInfo& b) {
    if (a.reason != b.reason || a.exc != b.exc || a.ip != b.ip || a.message != b.message)
        mismatch("the stop");
    const CpuState &x = fast.cpu.state(), &y = general.cpu.state();
    if (std::memcmp(x.regs, y.regs, sizeof x.regs) != 0)
        mismatch("the registers");
    if (x.ip != y.ip || x.preds != y.preds || x.wdSize != y.wdSize || x.wdDbl != y.wdDbl ||
        x.rbs != y.rbs || x.rsz != y.rsz || x.rcur != y.rcur || x.psz != y.psz ||
        x.pcur != y.pcur || x.lcnt != y.lcnt || x.pcnt != y.pcnt || x.ecnt != y.ecnt ||
        x.psr != y.psr || x.pspInd != y.pspInd || x.pcspInd != y.pcspInd ||
        x.bundles != y.bundles || x.ops != y.ops || x.usdBase != y.usdBase ||
        std::memcmp(x.ctpr, y.ctpr, sizeof x.ctpr) != 0)
        mismatch("the CPU state");
    static uint8_t m1[0x10000], m2[0x10000];
    for (uint64_t addr : {kBase, uint64_t(0x400000), uint64_t(0x600000)}) {
        fast.mem.read(addr, m1, sizeof m1);
        general.mem.read(addr, m2, sizeof m2);
        if (std::memcmp(m1, m2, sizeof m1) != 0)
            mismatch("memory");
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Sandbox* sb = new Sandbox;
    static Sandbox* general = [] {
        auto* g = new Sandbox;
        g->cpu.setFastPath(false);
        return g;
    }();
    if (size > 4096)
        return 0;
    const uint64_t base = kBase;
    for (Sandbox* box : {sb, general}) {
        box->mem.fill(base, 0, 4096 + 64);
        box->mem.write(base, data, size);
    }
    for (int mode = 0; mode < 2; ++mode) {
        const StopInfo a = runIn(*sb, mode);
        const StopInfo b = runIn(*general, mode);
        compare(*sb, *general, a, b);
    }
    // Disassemble and re-assemble each bundle in the input.
    size_t off = 0;
    while (off + 8 <= size) {
        RawBundle raw;
        if (!unpackBundle(data + off, size - off, raw)) {
            off += 8;
            continue;
        }
        std::string text = disassembleBundle(raw, base + off);
        try {
            assembleBundleText(text, base + off);
        } catch (const AsmError&) {
        } catch (const std::invalid_argument&) {
        }
        off += raw.sizeBytes;
    }
    return 0;
}

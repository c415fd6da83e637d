// libFuzzer target: random bytes as E2K code, decoded and executed in a sandbox (user mode and
// system mode with trap entry), plus disassembly and re-assembly of every bundle. Must never
// crash, hang or touch host memory; guest faults are expected.
#include "emu/asm/AsmError.h"
#include "emu/asm/BundleEncoder.h"
#include "emu/asm/Disassembler.h"
#include "emu/cpu/Bundle.h"
#include "emu/cpu/Cpu.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

using namespace e2kvm::emu;

namespace {
struct Sandbox {
    GuestMemory mem{16ull << 20};
    Cpu cpu{mem};
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Sandbox* sb = new Sandbox;
    if (size > 4096)
        return 0;
    const uint64_t base = 0x10000;
    sb->mem.fill(base, 0, 4096 + 64);
    sb->mem.write(base, data, size);
    for (int mode = 0; mode < 2; ++mode) {
        CpuState& s = sb->cpu.state();
        s = CpuState{};
        s.ip = base;
        s.wdSize = 32;
        s.psr = mode ? 1 : 0;
        s.oscudLo = base;
        s.sbr = s.usdBase = 0x800000;
        s.pspBase = 0x400000;
        s.pspSize = 0x100000;
        s.pcspBase = 0x600000;
        s.pcspSize = 0x100000;
        for (unsigned i = 0; i < 256; ++i)
            s.regs[i] = i * 0x9E3779B97F4A7C15ull;
        sb->cpu.setUserMode(mode == 0);
        sb->cpu.flushDecodeCache();
        sb->cpu.run(256);
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

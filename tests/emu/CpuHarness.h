#pragma once
// CpuHarness: runs a snippet of E2K assembly on a bare Cpu in system mode (PSR.pm = 1, trap
// table at the image base unless the snippet sets OSCUD) until `wait trap=1`, for unit tests.
#include "emu/asm/Assembler.h"
#include "emu/cpu/Cpu.h"

#include <memory>
#include <string>

namespace e2kvm::emu::test {

struct CpuHarness {
    static constexpr uint64_t kBase = 0x10000;
    std::unique_ptr<GuestMemory> mem = std::make_unique<GuestMemory>(64ull << 20);
    std::unique_ptr<Cpu> cpu = std::make_unique<Cpu>(*mem);
    AsmImage image;

    explicit CpuHarness(const std::string& source) {
        image = assemble(source, "snippet.s", AsmOptions{kBase});
        mem->write(image.textAddr, image.text.data(), image.text.size());
        mem->write(image.dataAddr, image.data.data(), image.data.size());
        CpuState& s = cpu->state();
        s.ip = image.entry;
        s.psr = 1;
        s.oscudLo = image.symbols.count("trap_table") ? image.symbols["trap_table"] : kBase;
        s.sbr = 0x3000000;
        s.usdBase = 0x3000000;
        s.pspBase = 0x1000000;
        s.pspSize = 0x800000;
        s.pcspBase = 0x1800000;
        s.pcspSize = 0x400000;
    }

    // Runs to `wait trap=1`; returns the stop (Wait on success).
    StopInfo run(uint64_t maxBundles = 1000000) { return cpu->run(maxBundles); }
    uint64_t reg(unsigned n) const { return cpu->state().regs[n]; }
    uint64_t global(unsigned n) const { return cpu->state().regs[kGlobalBase + n]; }
};

} // namespace e2kvm::emu::test

// System-level behaviour of the interpreter: the ISA notes' worked example (§8.3), trap entry
// through the trap table with TIR and `done`, code invalidation when code memory is written,
// register window bounds, and robustness against random bundles.
#include "CpuHarness.h"
#include "emu/cpu/Bundle.h"
#include "emu/cpu/DecodedBundle.h"

#include <gtest/gtest.h>

#include <random>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

TEST(CpuSystem, WorkedExampleSumAndDouble) {
    // §8.3: sum 10..1 with a predicated back edge, double it in a called function, store the
    // result to 0x10000000, then idle. Here the store goes to RAM (the harness has 64 MiB).
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; addd,0 0, 10, %dr0; addd,1 0, 0, %dr1 }
loop:
        { addd,0 %dr1, %dr0, %dr1; subd,1 %dr0, 1, %dr0; cmpedb,3 %dr0, 1, %pred0 }
        { nop 2 }
        { ct %ctpr1 ? ~%pred0 }
        { disp %ctpr2, double; addd,0 %dr1, 0, %dr8 }
        { call %ctpr2, wbs=4 }
        { std,2 %dr8, [ 0 + 0x1000000 ] }
        { wait trap=1 }
double:
        { setwd wsz=4, nfx=1; return %ctpr3; shld,0 %dr0, 1, %dr0 }
        { ct %ctpr3 }
)";
    CpuHarness h(src);
    StopInfo st = h.run();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(h.reg(1), 55u);
    EXPECT_EQ(h.reg(8), 110u);
    EXPECT_EQ(h.mem->load(0x1000000, 8), 110u);
    EXPECT_EQ(h.cpu->state().wdSize, 16u);
    EXPECT_EQ(h.cpu->state().pcspInd, 0u);
}

TEST(CpuSystem, TrapEntryTirAndDone) {
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 7, %dr0; addd,1 0, 0, %dr1; disp %ctpr1, after }
        { cmpedb,0 %dr0, 7, %pred3; addd,1 0, 0x1234, %dr6 }
fault:
        { udivd,5 %dr0, %dr1, %dr2 }
after:
        { addd,0 %dr6, 1, %dr7 }
        { wait trap=1 }
        .align 2048
trap_table:
        { setwd wsz=4, nfx=1 }
        { rrd,0 %tir.hi, %dg1 }
        { rrd,0 %tir.lo, %dg2 }
        { rrd,0 %cr0.hi, %dg3 }
        { rrd,0 %psr, %dg5 }
        { addd,0 %dg3, 8, %dg3 }
        { rwd,0 %dg3, %cr0.hi }
        { rwd,0 0, %tir.lo; cmpedb,1 %dg0, 0, %pred3 }
        { nop 3 }
        { done }
)";
    CpuHarness h(src);
    StopInfo st = h.run();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    uint64_t faultIp = h.image.symbols["fault"];
    uint64_t tirHi = h.global(1);
    EXPECT_TRUE((tirHi >> 34) & 1) << std::hex << tirHi; // exc_div
    EXPECT_EQ((tirHi >> 44) & 0x3F, 1u << 5);            // caused by ALC5
    EXPECT_EQ(h.global(2), faultIp);
    EXPECT_EQ(h.global(3), faultIp + 8);
    EXPECT_EQ(h.global(5) & 0x3, 1u); // handler runs with pm=1, ie=0
    EXPECT_EQ(h.reg(2), 0u);          // the faulting bundle did not commit
    EXPECT_EQ(h.reg(7), 0x1235u);     // window restored: %dr6 of the interrupted code
    EXPECT_TRUE(h.cpu->pred(3));      // predicates restored by done
    EXPECT_TRUE(h.cpu->tirs().empty());
    EXPECT_EQ(h.cpu->state().wdSize, 16u);
}

TEST(CpuSystem, SystemCallEntersTrapTableEntry) {
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; sdisp %ctpr1, 3 }
        { addd,0 0, 40, %dr8; call %ctpr1, wbs=4 }
        { wait trap=1 }
        .align 2048
trap_table:
        { wait trap=1 }
        .zero 0x1800 - 8
entry3:
        { setwd wsz=4, nfx=1; return %ctpr3; addd,0 %dr0, 2, %dr0 }
        { ct %ctpr3 }
)";
    CpuHarness h(src);
    StopInfo st = h.run();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(h.reg(8), 42u);
    EXPECT_EQ(st.ip, h.image.symbols["_start"] + 16 + 24);
}

TEST(CpuSystem, WritingCodeInvalidatesDecodedBundles) {
    // Replacement for `patch`: { addd,0 0, 2, %dr5 } (two words: HS, ALS0).
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0x11c0c28504000001, %dr1; addd,1 0, patch, %dr2 }
patch:
        { addd,0 0, 1, %dr5 }
        { cmpedb,0 %dr5, 1, %pred0; disp %ctpr1, patch }
        { std,2 %dr1, [ %dr2 + 0 ] }
        { ct %ctpr1 ? %pred0 }
        { wait trap=1 }
)";
    CpuHarness h(src);
    StopInfo st = h.run();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(h.reg(5), 2u);
}

TEST(CpuSystem, BasedRegistersOutsideTheWindowFault) {
    CpuHarness h("_start:\n{ setwd wsz=4, nfx=1; setbn rsz=3, rbs=2, rcur=0 }\n"
                 "{ addd,0 0, 1, %db[0] }\n{ wait trap=1 }\n");
    h.cpu->setUserMode(true);
    StopInfo st = h.run();
    EXPECT_EQ(st.reason, StopReason::Exception);
    EXPECT_EQ(st.exc, ExcNum::WindowBounds);
}

TEST(CpuSystem, CallWiderThanWindowFaults) {
    CpuHarness h("_start:\n{ setwd wsz=8, nfx=1; disp %ctpr1, f }\n{ call %ctpr1, wbs=16 }\n"
                 "f:\n{ wait trap=1 }\n");
    h.cpu->setUserMode(true);
    StopInfo st = h.run();
    EXPECT_EQ(st.reason, StopReason::Exception);
    EXPECT_EQ(st.exc, ExcNum::WindowBounds);
}

TEST(CpuSystem, SetwdBelowParameterAreaIsIllegal) {
    CpuHarness h("_start:\n{ setwd wsz=8, nfx=1; disp %ctpr1, f }\n{ call %ctpr1, wbs=2 }\n"
                 "f:\n{ setwd wsz=2, nfx=1 }\n{ wait trap=1 }\n");
    h.cpu->setUserMode(true);
    StopInfo st = h.run();
    EXPECT_EQ(st.reason, StopReason::Exception);
    EXPECT_EQ(st.exc, ExcNum::IllegalOpcode);
}

TEST(CpuSystem, UnalignedIpFaults) {
    CpuHarness h("_start:\n{ setwd wsz=8, nfx=1; addd,0 0, 0x10004, %dr0 }\n"
                 "{ movtd,0 %dr0, %ctpr1 }\n{ ct %ctpr1 }\n");
    h.cpu->setUserMode(true);
    StopInfo st = h.run();
    EXPECT_EQ(st.reason, StopReason::Exception);
    EXPECT_EQ(st.exc, ExcNum::IllegalInstrAddr);
}

TEST(CpuSystem, RandomBundlesNeverCrash) {
    std::mt19937_64 rng(12345);
    CpuHarness h("_start:\n{ setwd wsz=16, nfx=1 }\n");
    const CpuState initial = h.cpu->state();
    for (int iter = 0; iter < 5000; ++iter) {
        h.cpu->state() = initial;
        uint8_t code[64];
        for (auto& b : code)
            b = uint8_t(rng());
        // Bias towards plausible headers so deeper paths are reached.
        code[0] &= 0x7F;
        h.mem->write(CpuHarness::kBase + 8, code, sizeof code);
        h.cpu->flushDecodeCache();
        h.cpu->setUserMode(iter & 1);
        StopInfo st = h.run(4);
        (void)st;
        RawBundle raw;
        if (unpackBundle(code, sizeof code, raw)) {
            DecodedBundle d;
            decodeBundle(raw, 0, d);
        }
    }
}

TEST(CpuSystem, InterruptEntersTrapTableAndResumes) {
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; rws,0 3, %psr }
loop:
        { addd,0 %dr0, 1, %dr0; cmpedb,1 %dg1, 0, %pred0 }
        { ct %ctpr1 ? %pred0 }
        { wait trap=1 }
        .align 2048
trap_table:
        { setwd wsz=4, nfx=1 }
        { rrd,0 %tir.hi, %dg2 }
        { rrd,0 %tir.lo, %dg3 }
        { rrd,0 %psr, %dg4; addd,1 0, 1, %dg1 }
        { rwd,0 0, %tir.lo }
        { done }
)";
    CpuHarness h(src);
    StopInfo st = h.run(50); // interrupts disabled until the rws; the loop spins
    ASSERT_EQ(st.reason, StopReason::Budget);
    EXPECT_EQ(h.global(1), 0u);
    h.cpu->setInterruptLine(true);
    st = h.run(1);
    h.cpu->setInterruptLine(false); // the "device" is acknowledged
    st = h.run(1000);
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(h.global(1), 1u);
    EXPECT_TRUE((h.global(2) >> 32) & 1);    // exc_interrupt
    EXPECT_EQ(h.global(4) & 0x2, 0u);        // handler runs with interrupts off
    EXPECT_EQ(h.cpu->state().psr & 0x3, 3u); // restored by done
    EXPECT_GT(h.reg(0), 20u);
}

namespace {
struct RecordingDevice : MmioBus {
    uint64_t lastAddr = 0, lastValue = 0;
    uint8_t lastMas = 0;
    bool read(uint64_t addr, unsigned size, uint64_t& value, uint8_t mas) override {
        if (addr < 0x8000000 || addr >= 0x8001000)
            return false;
        value = 0x1234 + size;
        lastMas = mas;
        return true;
    }
    bool write(uint64_t addr, unsigned size, uint64_t value, uint8_t mas) override {
        if (addr < 0x8000000 || addr >= 0x8001000 || size != 8)
            return false;
        lastAddr = addr;
        lastValue = value;
        lastMas = mas;
        return true;
    }
};
} // namespace

TEST(CpuSystem, MmioThroughTheBusWithIoMas) {
    const char* src = R"(
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0x8000000, %dr0; addd,1 0, 0x77, %dr1 }
        { std,2 %dr1, [ %dr0 + 0x10 ] mas=6 }
        { ldd,2 %dr0, 8, %dr2 mas=6 }
        { wait trap=1 }
)";
    CpuHarness h(src);
    RecordingDevice dev;
    h.mem->setBus(&dev);
    StopInfo st = h.run();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(dev.lastAddr, 0x8000010u);
    EXPECT_EQ(dev.lastValue, 0x77u);
    EXPECT_EQ(dev.lastMas, 6);
    EXPECT_EQ(h.reg(2), 0x1234u + 8);
}

// Table-driven tests of single operations with the ISA notes' edge cases: shift counts modulo
// the width, sxt modes, 32-bit results and the upper half, division by zero and overflow,
// high multiplies, compares.
#include "CpuHarness.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// Runs `op` with %dr0 = a, %dr1 = b, %dr2 = sentinel beforehand; returns %dr2.
uint64_t runOp(const std::string& op, uint64_t a, uint64_t b,
               uint64_t sentinel = 0x5555aaaa5555aaaa, StopInfo* stop = nullptr) {
    std::string src = "_start:\n"
                      "{ setwd wsz=8, nfx=1; addd,0 0, " +
                      hex(a) +
                      ", %dr0 }\n"
                      "{ addd,1 0, " +
                      hex(b) +
                      ", %dr1 }\n"
                      "{ addd,0 0, " +
                      hex(sentinel) +
                      ", %dr2 }\n"
                      "{ " +
                      op +
                      " }\n"
                      "{ wait trap=1 }\n";
    CpuHarness h(src);
    h.cpu->setUserMode(true);
    StopInfo st = h.run();
    if (stop)
        *stop = st;
    else
        EXPECT_EQ(st.reason, StopReason::Wait) << op << ": " << st.message;
    return h.reg(2);
}

struct OpCase {
    const char* op;
    uint64_t a, b, expected;
};

} // namespace

TEST(CpuOps, Table) {
    const uint64_t S = 0x5555aaaa5555aaaa; // sentinel upper half 0x5555aaaa
    const uint64_t hi = S & 0xFFFFFFFF00000000ull;
    const OpCase cases[] = {
        {"addd,0 %dr0, %dr1, %dr2", 5, 7, 12},
        {"addd,0 %dr0, %dr1, %dr2", ~0ull, 1, 0},
        {"adds,0 %r0, %r1, %r2", 0x7fffffff, 1, hi | 0x80000000},
        {"subs,0 %r0, %r1, %r2", 0, 1, hi | 0xffffffff},
        {"subd,3 %dr0, %dr1, %dr2", 0, 1, ~0ull},
        {"shls,0 %r0, %r1, %r2", 1, 32, hi | 1},
        {"shls,0 %r0, %r1, %r2", 1, 33, hi | 2},
        {"shld,0 %dr0, %dr1, %dr2", 1, 64, 1},
        {"shld,0 %dr0, %dr1, %dr2", 1, 127, 0x8000000000000000},
        {"shrs,0 %r0, %r1, %r2", 0x80000000, 31, hi | 1},
        {"shrd,0 %dr0, %dr1, %dr2", 0x8000000000000000, 63, 1},
        {"sars,0 %r0, %r1, %r2", 0x80000000, 31, hi | 0xffffffff},
        {"sars,0 %r0, %r1, %r2", 0x80000000, 63, hi | 0xffffffff},
        {"sard,0 %dr0, %dr1, %dr2", 0x8000000000000000, 64, 0x8000000000000000},
        {"scls,0 %r0, %r1, %r2", 0x80000001, 1, hi | 3},
        {"scrd,0 %dr0, %dr1, %dr2", 3, 65, 0x8000000000000001},
        {"sxt,0 0, %r1, %dr2", 0, 0xff, ~0ull},
        {"sxt,0 1, %r1, %dr2", 0, 0x7fff, 0x7fff},
        {"sxt,0 3, %r1, %dr2", 0, 0x80000000, 0xffffffff80000000},
        {"sxt,0 5, %r1, %dr2", 0, 0xffffffff, 0xffff},
        {"sxt,0 7, %r1, %dr2", 0, 0xfffffffffffffffe, 0xfffffffe},
        {"andnd,0 %dr0, %dr1, %dr2", 0xff, 0x0f, 0xf0},
        {"ornd,0 %dr0, %dr1, %dr2", 0, ~0ull, 0},
        {"xorns,0 %r0, %r1, %r2", 0, 0, hi | 0xffffffff},
        {"muls,0 %r0, %r1, %r2", 0x10000, 0x10000, hi | 0},
        {"muld,1 %dr0, %dr1, %dr2", 0x100000000, 0x100000000, 0},
        {"umulx,3 %r0, %r1, %dr2", 0xffffffff, 0xffffffff, 0xfffffffe00000001},
        {"smulx,4 %r0, %r1, %dr2", 0xffffffff, 2, ~1ull},
        {"umulhd,0 %dr0, %dr1, %dr2", 0x8000000000000000, 4, 2},
        {"smulhd,0 %dr0, %dr1, %dr2", ~1ull, 3, ~0ull},
        {"udivs,5 %r0, %r1, %r2", 0xffffffff, 2, hi | 0x7fffffff},
        {"sdivs,5 %r0, %r1, %r2", 0x80000000, 0xffffffff, hi | 0x80000000},
        {"sdivd,5 %dr0, %dr1, %dr2", 0x8000000000000000, ~0ull, 0x8000000000000000},
        {"sdivd,5 %dr0, %dr1, %dr2", ~6ull, 2, ~2ull},
        {"udivx,5 %dr0, %r1, %r2", 0x100000000, 2, hi | 0x80000000},
        {"smodx,5 %dr0, %r1, %r2", ~6ull, 2, hi | 0xffffffff},
        {"lzcntd,1 %dr1, %dr2", 0, 0, 64},
        {"lzcnts,1 %r1, %r2", 0, 1, hi | 31},
        {"popcntd,4 %dr1, %dr2", 0, ~0ull, 64},
        {"bitrevs,0 %r1, %r2", 0, 1, hi | 0x80000000},
        {"getfd,0 %dr0, %dr1, %dr2", 0xabcd, 4 | (8 << 6), 0xbc},
        {"getfs,0 %r0, %r1, %r2", 0xf0, 4 | (4 << 6) | (1 << 12), hi | 0xffffffff},
        // the sign is src1 bit byte*8 + ((offset + length - 1) & 7) (qemu-e2k-tests int/getfd-1)
        {"getfd,0 %dr0, %dr1, %dr2", 0x10101, 1 | (32 << 6) | (1 << 12) | (2 << 13),
         0xffffffff00008080},
        {"getfd,0 %dr0, %dr1, %dr2", 0x10101, 1 | (32 << 6) | (1 << 12) | (3 << 13), 0x8080},
        {"getfd,0 %dr0, %dr1, %dr2", 0xfedcba9876543210, 32 | (4 << 6) | (1 << 12) | (4 << 13),
         0xfffffffffffffff8},
        {"insfd,0 %dr0, 0x104, %dr1, %dr2", 0xffff, 0x5, 0xf000000000000ff5},
        {"movtd,0 %dr1, %dr2", 0, 0x1234, 0x1234},
    };
    for (const OpCase& c : cases)
        EXPECT_EQ(hex(runOp(c.op, c.a, c.b, S)), hex(c.expected))
            << c.op << " a=" << hex(c.a) << " b=" << hex(c.b);
}

TEST(CpuOps, DivisionByZeroRaisesExcDiv) {
    for (const char* op : {"udivs,5 %r0, %r1, %r2", "sdivd,5 %dr0, %dr1, %dr2",
                           "udivx,5 %dr0, %r1, %r2", "smodx,5 %dr0, %r1, %r2"}) {
        StopInfo st;
        uint64_t r = runOp(op, 7, 0, 0x77, &st);
        EXPECT_EQ(st.reason, StopReason::Exception) << op;
        EXPECT_EQ(st.exc, ExcNum::Div) << op;
        EXPECT_EQ(r, 0x77u) << op << ": faulting bundle must not commit";
    }
    // Speculative division by zero gives a diagnostic value instead of trapping.
    EXPECT_EQ(runOp("udivd,5,sm %dr0, %dr1, %dr2", 7, 0), 0x4afafafa4afafafau);
}

TEST(CpuOps, Compares) {
    struct Cmp {
        const char* op;
        uint64_t a, b;
        bool expected;
    };
    const Cmp cases[] = {
        {"cmpodb", 0x8000000000000000, 1, true},
        {"cmpodb", 5, 1, false},
        {"cmposb", 0x80000000, 1, true},
        {"cmpbdb", 1, 2, true},
        {"cmpbdb", ~0ull, 2, false},
        {"cmpedb", 3, 3, true},
        {"cmpbedb", 3, 3, true},
        {"cmpsdb", 1, 2, true},
        {"cmppdb", 3, 0, true},
        {"cmppdb", 1, 0, false},
        {"cmpldb", ~0ull, 0, true},
        {"cmplsb", 0xffffffff, 0, true},
        {"cmplsb", 0x1ffffffff, 0x100000000, true},
        {"cmpledb", 2, 2, true},
        {"cmpbsb", 0x100000001, 2, true},
        {"cmpandedb", 0xf0, 0x0f, true},
        {"cmpandsdb", ~0ull, 0x8000000000000000, true},
        {"cmpandledb", 1, 1, false},
        {"cmpandpdb", 0x3, 0xff, true},
    };
    for (const Cmp& c : cases) {
        bool sb = std::string(c.op).find("sb") != std::string::npos;
        std::string text =
            std::string(c.op) + ",0 " + (sb ? "%r0, %r1" : "%dr0, %dr1") + ", %pred7";
        std::string src = "_start:\n{ setwd wsz=8, nfx=1; addd,0 0, " + hex(c.a) +
                          ", %dr0 }\n{ addd,1 0, " + hex(c.b) + ", %dr1 }\n{ " + text +
                          " }\n{ wait trap=1 }\n";
        CpuHarness h(src);
        ASSERT_EQ(h.run().reason, StopReason::Wait) << text;
        EXPECT_EQ(h.cpu->pred(7), c.expected) << text << " a=" << hex(c.a) << " b=" << hex(c.b);
    }
}

TEST(CpuOps, DblZeroesUpperHalf) {
    CpuHarness h("_start:\n{ setwd wsz=8, nfx=1, dbl=1; subd,0 0, 1, %dr2 }\n"
                 "{ adds,0 0, 5, %r2 }\n{ wait trap=1 }\n");
    ASSERT_EQ(h.run().reason, StopReason::Wait);
    EXPECT_EQ(h.reg(2), 5u);
}

TEST(CpuOps, SetwdDblAppliesToItsOwnBundle) {
    // The dbl set by setwd already governs the 32-bit write in the same bundle.
    CpuHarness h("_start:\n{ setwd wsz=8, nfx=1; subd,0 0, 1, %dr2 }\n"
                 "{ setwd wsz=8, nfx=1, dbl=1; adds,0 0, 5, %r2 }\n{ wait trap=1 }\n");
    ASSERT_EQ(h.run().reason, StopReason::Wait);
    EXPECT_EQ(h.reg(2), 5u);
}

TEST(CpuOps, LoopModeStoresSuppressedInPrologue) {
    // lcnt=4, pcnt=2: the first two iterations are prologue, their stores are dropped.
    CpuHarness h(R"(
_start:
        { setwd wsz=8, nfx=1; addd,0 0, 0x1000000, %dr0; addd,1 0, 0, %dr1 }
        { rwd,0 0x0002002000000004, %lsr; disp %ctpr1, loop }
loop:
        { loop_mode; addd,0 %dr1, 1, %dr1; std,2 %dr1, [ %dr0 + 0 ]; addd,1 %dr0, 8, %dr0; alc alct=1; ct %ctpr1 ? #NOT_LOOP_END }
        { wait trap=1 }
)");
    ASSERT_EQ(h.run().reason, StopReason::Wait);
    EXPECT_EQ(h.reg(1), 4u);
    EXPECT_EQ(h.mem->load(0x1000000, 8), 0u);
    EXPECT_EQ(h.mem->load(0x1000008, 8), 0u);
    // Each store sees %dr1 from before its bundle: iterations 3 and 4 store 2 and 3.
    EXPECT_EQ(h.mem->load(0x1000010, 8), 2u);
    EXPECT_EQ(h.mem->load(0x1000018, 8), 3u);
}

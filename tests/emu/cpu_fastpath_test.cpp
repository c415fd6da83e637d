// The interpreter's fast path against its general path: bundle rules that the fast path's
// in-place ordering must keep (reads before writes, highest channel wins for registers and
// predicates, faulting ops commit nothing), and random programs that must leave identical
// state, memory and stop information on both paths.
#include "CpuHarness.h"

#include "emu/asm/AsmError.h"
#include "emu/cpu/Bundle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

constexpr uint64_t kData = 0x200000; // scratch data the random programs load and store

struct Outcome {
    StopInfo stop;
    CpuState state;
    std::vector<uint8_t> data;
    unsigned bundles = 0, fastBundles = 0; // in the program text; planned for the fast path
    unsigned translated = 0;               // ... and run as host code (InPlaceJit)
    unsigned linked = 0;                   // ... as whole linked translations (BundleJit)
};

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

// Runs `source` in user mode with the fast path on or off (and its in-place ops translated or
// interpreted), RAM below `lowGuard` faulting.
Outcome runProgram(const std::string& source, bool fast, bool jit = true, uint64_t lowGuard = 0,
                   bool whole = true) {
    CpuHarness h(source);
    h.mem->setLowGuard(lowGuard);
    h.cpu->setFastPath(fast);
    h.cpu->setInPlaceJit(jit);
    h.cpu->setBundleJit(whole);
    h.cpu->setUserMode(true);
    Outcome o;
    o.stop = h.run(1000);
    o.state = h.cpu->state();
    o.data.resize(256);
    h.mem->read(kData, o.data.data(), o.data.size());
    return o;
}

// A machine reused by the random programs (a Cpu per program is slow under sanitizers): each
// program's image is written into it and the CPU state set from scratch.
struct Sandbox {
    GuestMemory mem{64ull << 20};
    Cpu cpu{mem};

    explicit Sandbox(bool fast, bool jit = true, bool whole = true) {
        cpu.setFastPath(fast);
        cpu.setInPlaceJit(jit);
        cpu.setBundleJit(whole);
    }

    Outcome run(const AsmImage& image, const CpuState& init, bool system,
                const std::vector<uint8_t>& data, uint64_t budget) {
        mem.write(image.textAddr, image.text.data(), image.text.size());
        mem.write(kData, data.data(), data.size());
        cpu.state().psr = 1;
        cpu.writeStateReg(0x9D, 0); // empty the TIR LIFO
        CpuState& s = cpu.state();
        s = init;
        s.ip = image.entry;
        s.psr = system ? 1 : 0;
        s.oscudLo = CpuHarness::kBase;
        cpu.setUserMode(!system);
        cpu.flushDecodeCache();
        Outcome o;
        for (uint64_t ip = image.textAddr; ip < image.textAddr + image.text.size();) {
            ++o.bundles;
            o.fastBundles += cpu.fastPathCovers(ip);
            o.translated += cpu.fastPathTranslates(ip);
            o.linked += cpu.fastPathLinks(ip);
            RawBundle raw;
            if (!unpackBundle(image.text.data() + (ip - image.textAddr),
                              image.textAddr + image.text.size() - ip, raw))
                break;
            ip += raw.sizeBytes;
        }
        o.stop = cpu.run(budget);
        o.state = cpu.state();
        o.data.resize(data.size());
        mem.read(kData, o.data.data(), o.data.size());
        return o;
    }
};

// Field-by-field difference of two CPU states ("" when equal).
std::string diff(const CpuState& a, const CpuState& b) {
    std::string d;
    auto cmp = [&](const char* name, uint64_t x, uint64_t y) {
        if (x != y)
            d += std::string(name) + ": " + hex(x) + " vs " + hex(y) + "\n";
    };
    cmp("ip", a.ip, b.ip);
    for (unsigned i = 0; i < 256; ++i)
        cmp(("regs[" + std::to_string(i) + "]").c_str(), a.regs[i], b.regs[i]);
    cmp("wdSize", a.wdSize, b.wdSize);
    cmp("wdPsize", a.wdPsize, b.wdPsize);
    cmp("wdDbl", a.wdDbl, b.wdDbl);
    cmp("rbs", a.rbs, b.rbs);
    cmp("rsz", a.rsz, b.rsz);
    cmp("rcur", a.rcur, b.rcur);
    cmp("psz", a.psz, b.psz);
    cmp("pcur", a.pcur, b.pcur);
    cmp("preds", a.preds, b.preds);
    for (unsigned i = 1; i < 4; ++i)
        cmp(("ctpr" + std::to_string(i)).c_str(), a.ctpr[i], b.ctpr[i]);
    cmp("lcnt", a.lcnt, b.lcnt);
    cmp("ecnt", a.ecnt, b.ecnt);
    cmp("pcnt", a.pcnt, b.pcnt);
    cmp("psr", a.psr, b.psr);
    cmp("usdBase", a.usdBase, b.usdBase);
    cmp("usdSize", a.usdSize, b.usdSize);
    cmp("pspInd", a.pspInd, b.pspInd);
    cmp("pcspInd", a.pcspInd, b.pcspInd);
    cmp("bundles", a.bundles, b.bundles);
    cmp("ops", a.ops, b.ops);
    return d;
}

void expectSame(const Outcome& fast, const Outcome& general, const std::string& source) {
    EXPECT_EQ(int(fast.stop.reason), int(general.stop.reason)) << source;
    EXPECT_EQ(int(fast.stop.exc), int(general.stop.exc)) << source;
    EXPECT_EQ(fast.stop.ip, general.stop.ip) << source;
    EXPECT_EQ(fast.stop.message, general.stop.message) << source;
    EXPECT_EQ(diff(fast.state, general.state), "") << source;
    EXPECT_TRUE(fast.data == general.data) << "data memory differs\n" << source;
}

// Runs a snippet on both paths, checks they agree and returns the fast path's outcome.
Outcome runBoth(const std::string& source) {
    Outcome fast = runProgram(source, true), general = runProgram(source, false);
    EXPECT_EQ(fast.stop.reason, StopReason::Wait) << fast.stop.message;
    expectSame(fast, general, source);
    expectSame(runProgram(source, true, false), general, source);
    expectSame(runProgram(source, true, true, 0, false), general, source);
    return fast;
}

} // namespace

TEST(CpuFastPath, TwoComparesIntoOnePredicateHighestChannelWins) {
    // Channel 1 reads what channel 0 writes, so the ops cannot run in channel order in place;
    // the compares in channels 3 and 4 both write %pred0 and channel 4 (false) must win.
    Outcome o = runBoth("_start:\n{ setwd wsz=8, nfx=1 }\n"
                        "{ addd,0 %dr0, 1, %dr0; addd,1 %dr0, 0, %dr1; cmpedb,3 0, 0, %pred0; "
                        "cmpedb,4 0, 1, %pred0 }\n"
                        "{ wait trap=1 }\n");
    EXPECT_EQ(o.state.preds & 1, 0u);
    EXPECT_EQ(o.state.regs[0], 1u);
    EXPECT_EQ(o.state.regs[1], 0u);
    o = runBoth("_start:\n{ setwd wsz=8, nfx=1 }\n"
                "{ cmpedb,0 0, 1, %pred2; cmpedb,1 0, 0, %pred2; cmpedb,3 0, 1, %pred3; "
                "cmpedb,4 0, 0, %pred3 }\n"
                "{ wait trap=1 }\n");
    EXPECT_EQ((o.state.preds >> 2) & 3, 3u);
}

TEST(CpuFastPath, TwoChannelsWritingOneRegister) {
    // In place: channel 2 reads %dr2 before channel 0 overwrites it; channel 4 beats channel 1.
    Outcome o = runBoth("_start:\n{ setwd wsz=8, nfx=1; addd,0 0, 5, %dr2 }\n"
                        "{ addd,0 0, 7, %dr2; addd,1 0, 1, %dr3; addd,2 %dr2, 100, %dr4; "
                        "addd,4 0, 2, %dr3 }\n"
                        "{ wait trap=1 }\n");
    EXPECT_EQ(o.state.regs[2], 7u);
    EXPECT_EQ(o.state.regs[3], 2u);
    EXPECT_EQ(o.state.regs[4], 105u);
    // A load (results land at the commit) in a lower channel than an ALU op writing the same
    // register: the ALU op (channel 1) must win.
    o = runBoth("_start:\n{ setwd wsz=8, nfx=1; addd,0 0, " + hex(kData) + ", %dr7 }\n" +
                "{ addd,0 0, 0x55, %dr1 }\n{ std,2 %dr1, [ %dr7 + 0 ] }\n"
                "{ ldd,0 %dr7, 0, %dr5; addd,1 0, 9, %dr5 }\n"
                "{ addd,1 0, 9, %dr6; ldd,3 %dr7, 0, %dr6 }\n"
                "{ wait trap=1 }\n");
    EXPECT_EQ(o.state.regs[5], 9u);
    EXPECT_EQ(o.state.regs[6], 0x55u);
    // A swap has no in-place order: both read the old values.
    o = runBoth("_start:\n{ setwd wsz=8, nfx=1; addd,0 0, 1, %dr0; addd,1 0, 2, %dr1 }\n"
                "{ addd,0 %dr1, 0, %dr0; addd,1 %dr0, 0, %dr1; adds,2 %r0, %r1, %r2 }\n"
                "{ wait trap=1 }\n");
    EXPECT_EQ(o.state.regs[0], 2u);
    EXPECT_EQ(o.state.regs[1], 1u);
    EXPECT_EQ(o.state.regs[2], 3u);
}

TEST(CpuFastPath, LoadBelowTheLowGuardFaultsBeforeAnyWrite) {
    // Two loads in one bundle, the lower one under the low guard: the bundle must fault as a
    // whole (its ALU op unwritten), on every path, however the higher load's address passes.
    const std::string src = "_start:\n{ setwd wsz=8, nfx=1; addd,0 0, 8, %dr1; addd,1 0, " +
                            std::to_string(kData) +
                            ", %dr3; addd,2 0, 7, %dr5 }\n"
                            "{ ldd,0 %dr3, 0, %dr4; ldd,2 %dr1, 0, %dr2; addd,1 0, 9, %dr5 }\n"
                            "{ wait trap=1 }\n";
    const Outcome general = runProgram(src, false, true, 0x1000);
    EXPECT_EQ(general.stop.reason, StopReason::Exception) << general.stop.message;
    EXPECT_EQ(general.state.regs[5], 7u);
    for (const bool jit : {true, false}) {
        const Outcome fast = runProgram(src, true, jit, 0x1000);
        EXPECT_EQ(fast.state.regs[5], 7u) << "jit " << jit;
        expectSame(fast, general, src);
    }
}

TEST(CpuFastPath, FaultingLoadWritesNothing) {
    // The in-range ALU ops of a bundle whose load faults must not be written (UPSR.ac set:
    // misaligned loads trap).
    const std::string src = "_start:\n{ setwd wsz=8, nfx=1; rws,0 4, %upsr; addd,1 0, 3, %dr1 }\n"
                            "{ addd,0 0, 1, %dr1; ldd,2 %dr1, 0, %dr2; addd,3 0, 4, %dr3; "
                            "cmpedb,4 0, 0, %pred5 }\n"
                            "{ wait trap=1 }\n";
    Outcome fast = runProgram(src, true), general = runProgram(src, false);
    EXPECT_EQ(fast.stop.reason, StopReason::Exception);
    EXPECT_EQ(fast.stop.exc, ExcNum::AddrNotAligned);
    EXPECT_EQ(fast.state.regs[1], 3u);
    EXPECT_EQ(fast.state.regs[3], 0u);
    EXPECT_EQ((fast.state.preds >> 5) & 1, 0u);
    expectSame(fast, general, src);
}

// Random straight-line and looping programs of plain bundles (ALU, compares, loads, stores,
// divisions, conditions, transfers): the fast path must match the general path exactly, with
// whole bundles translated and linked (BundleJit), only their in-place ops translated
// (InPlaceJit) and everything interpreted.
TEST(CpuFastPath, RandomProgramsMatchTheGeneralPath) {
    std::mt19937_64 rng(20261123);
    auto pick = [&](unsigned n) { return unsigned(rng() % n); };
    auto reg = [&](bool dst) -> std::string {
        unsigned r = pick(dst ? 9 : 10); // %dr7 (the data pointer) is written rarely
        if (r == 9)
            return "%dg1";
        if (r == 8)
            return dst ? "%empty" : "%dr" + std::to_string(pick(8));
        if (dst && r == 7 && pick(4))
            r = pick(7);
        return "%dr" + std::to_string(r);
    };
    auto src = [&](bool first) -> std::string {
        switch (pick(6)) {
        case 0:
            return std::to_string(pick(first ? 32 : 16));
        case 1:
            return first ? reg(false) : hex(rng() >> pick(64));
        default:
            return reg(false);
        }
    };
    auto cond = [&]() -> std::string {
        switch (pick(8)) {
        case 0:
            return " ? %pred" + std::to_string(pick(8));
        case 1:
            return " ? ~%pred" + std::to_string(pick(8));
        case 2:
            return " ? %pcnt" + std::to_string(pick(4));
        default:
            return "";
        }
    };
    static const char* alu[] = {"adds",  "addd",  "subs", "subd",  "ands",  "andd", "andns",
                                "andnd", "ors",   "ord",  "orns",  "ornd",  "xors", "xord",
                                "xorns", "xornd", "shls", "shld",  "shrs",  "shrd", "sars",
                                "sard",  "scls",  "scrd", "getfs", "getfd", "sxt"};
    static const char* cmps[] = {"cmposb",  "cmpbsb",    "cmpesb",    "cmpbesb",   "cmpssb",
                                 "cmppsb",  "cmplsb",    "cmplesb",   "cmpodb",    "cmpbdb",
                                 "cmpedb",  "cmpbedb",   "cmpsdb",    "cmppdb",    "cmpldb",
                                 "cmpledb", "cmpandesb", "cmpandpdb", "cmpandledb"};
    static const char* muls[] = {"muls", "muld", "umulx", "smulx", "umulhd", "smulhd"};
    static const char* divs[] = {"udivs", "udivd", "sdivs", "sdivd", "udivx", "smodx"};
    static const char* loads[] = {"ldb", "ldh", "ldw", "ldd"};
    static const char* stores[] = {"stb", "sth", "stw", "std"};

    auto randomOp = [&](unsigned ch) -> std::string {
        const std::string c = "," + std::to_string(ch) + " ";
        const bool alu0134 = ch != 2 && ch != 5;
        for (;;) {
            switch (pick(10)) {
            case 0:
            case 1:
            case 2:
                return alu[pick(std::size(alu))] + c + src(true) + ", " + src(false) + ", " +
                       reg(true) + cond();
            case 3:
                if (!alu0134)
                    break;
                return cmps[pick(std::size(cmps))] + c + src(true) + ", " + src(false) + ", %pred" +
                       std::to_string(pick(8)) + cond();
            case 4:
                if (!alu0134)
                    break;
                return muls[pick(std::size(muls))] + c + src(true) + ", " + src(false) + ", " +
                       reg(true) + cond();
            case 5:
                if (ch == 1 || ch == 4)
                    break;
                return loads[pick(4)] + c + "%dr7, " +
                       std::to_string(pick(6) ? 8 * pick(8) : pick(64)) + ", " + reg(true) + cond();
            case 6:
                if (alu0134)
                    break;
                return stores[pick(4)] + c + reg(false) + ", [ %dr7 + " +
                       std::to_string(pick(6) ? 8 * pick(8) : pick(64)) + " ]" + cond();
            case 7:
                if (ch != 5)
                    break;
                return divs[pick(std::size(divs))] + c + src(true) + ", " + src(false) + ", " +
                       reg(true) + cond();
            case 8:
                if (!alu0134)
                    break;
                return std::string(pick(2) ? "merged" : "merges") + c + src(true) + ", " +
                       src(false) + ", " + reg(true) + ", %pred" + std::to_string(pick(8));
            default:
                if (!alu0134)
                    break;
                return "insfd" + c + src(true) + ", " + src(false) + ", " + reg(false) + ", " +
                       reg(true);
            }
        }
    };

    Sandbox fastBox(true), inPlaceBox(true, true, false), interpretedBox(true, false),
        generalBox(false);
    unsigned programs = 0, bundles = 0, fastBundles = 0, translated = 0, linked = 0;
    uint64_t executed = 0;
    for (int iter = 0; programs < 600 && iter < 5000; ++iter) {
        const unsigned n = 3 + pick(6);
        std::string text = "_start:\n{ setwd wsz=8, nfx=1" + std::string(pick(4) ? "" : ", dbl=1") +
                           "; disp %ctpr1, b0 }\n{ disp %ctpr2, end }\n";
        for (unsigned i = 0; i < n; ++i) {
            text += "b" + std::to_string(i) + ":\n{ ";
            std::vector<std::string> parts;
            for (unsigned ch = 0; ch < 6; ++ch)
                if (pick(3))
                    parts.push_back(randomOp(ch));
            switch (pick(14)) {
            case 0:
                parts.push_back("ct %ctpr1 ? %pred" + std::to_string(pick(8)));
                break;
            case 1:
                parts.push_back("ct %ctpr2 ? ~%pred" + std::to_string(pick(8)));
                break;
            case 2:
                parts.push_back("ibranch b" + std::to_string(pick(n)) + " ? %pred" +
                                std::to_string(pick(8)));
                break;
            case 3:
                parts.push_back("disp %ctpr" + std::to_string(1 + pick(3)) + ", b" +
                                std::to_string(pick(n)));
                break;
            case 4:
                parts.push_back("ct %ctpr" + std::to_string(1 + pick(3)));
                break;
            case 5:
                if (pick(4) == 0)
                    parts.push_back("return %ctpr3");
                break;
            case 6:
                parts.push_back("call %ctpr" + std::to_string(1 + pick(3)) +
                                ", wbs=" + std::to_string(pick(5)));
                break;
            case 7:
                parts.push_back("setwd wsz=" + std::to_string(3 + pick(8)) + ", nfx=1" +
                                (pick(2) ? ", dbl=1" : ""));
                break;
            case 8:
                parts.push_back("sdisp %ctpr" + std::to_string(1 + pick(3)) + ", 3");
                break;
            default:
                break;
            }
            for (size_t k = 0; k < parts.size(); ++k)
                text += (k ? "; " : "") + parts[k];
            text += " }\n";
        }
        text += "end:\n{ wait trap=1 }\n";

        CpuState init;
        for (auto& r : init.regs)
            r = rng() >> pick(64);
        init.regs[7] = kData + 8 * pick(16);
        init.preds = uint32_t(rng());
        init.pcnt = uint8_t(pick(4));
        init.psz = pick(8);
        init.pcur = pick(init.psz + 1);
        init.sbr = init.usdBase = 0x3000000;
        init.pspBase = 0x1000000;
        init.pspSize = 0x800000;
        init.pcspBase = 0x1800000;
        init.pcspSize = 0x400000;
        std::vector<uint8_t> data(256);
        for (auto& b : data)
            b = uint8_t(rng());
        const bool system = pick(3) == 0;
        AsmImage image;
        try {
            image = assemble(text, "random.s", AsmOptions{CpuHarness::kBase});
        } catch (const AsmError&) {
            continue; // e.g. too many literals for one bundle: draw another program
        }
        {
            Outcome fast = fastBox.run(image, init, system, data, 200);
            Outcome inPlace = inPlaceBox.run(image, init, system, data, 200);
            Outcome interpreted = interpretedBox.run(image, init, system, data, 200);
            Outcome general = generalBox.run(image, init, system, data, 200);
            expectSame(fast, general, text);
            expectSame(inPlace, general, text);
            expectSame(interpreted, general, text);
            if (::testing::Test::HasFailure())
                return;
            bundles += fast.bundles;
            fastBundles += fast.fastBundles;
            translated += fast.translated;
            linked += fast.linked;
            executed += fast.state.bundles;
        }
        ++programs;
    }
    EXPECT_EQ(programs, 600u);
    // Most random bundles must be fast-path bundles, or this compares the general path with
    // itself.
    EXPECT_GT(fastBundles * 10, bundles * 6) << fastBundles << " of " << bundles;
#if defined(__x86_64__) && defined(__linux__)
    // ... and many of them translated, or this compares the interpreter with itself.
    EXPECT_GT(translated * 20, bundles) << translated << " of " << bundles;
    // ... and many run as whole linked translations.
    EXPECT_GT(linked * 20, bundles) << linked << " of " << bundles;
    std::printf("%u programs, %u bundles: %u fast, %u with in-place code, %u whole; %llu run\n",
                programs, bundles, fastBundles, translated, linked,
                static_cast<unsigned long long>(executed));
#endif
    EXPECT_GT(executed, 20000u);
}

TEST(CpuFastPath, HighIpDoesNotHitDecodedCode) {
    // `loop` is decoded and cached first; a transfer to loop + 2^40 (beyond RAM) must fault
    // instead of finding that cached bundle.
    const std::string src = "_start:\n{ setwd wsz=8, nfx=1; addd,0 0, loop, %dr0 }\n"
                            "{ addd,0 %dr0, 0x10000000000, %dr1 }\n"
                            "loop:\n{ addd,2 %dr2, 1, %dr2; movtd,0 %dr1, %ctpr1 }\n"
                            "{ ct %ctpr1 }\n";
    for (bool fast : {true, false}) {
        Outcome o = runProgram(src, fast);
        EXPECT_EQ(o.stop.reason, StopReason::Exception);
        EXPECT_EQ(o.stop.exc, ExcNum::InstrPageMiss) << o.stop.message;
        EXPECT_EQ(o.state.regs[2], 1u);
    }
}

// The memloop benchmark's shape (a fill loop of two stores, a sum loop of two loads) stopped
// after every budget from 1 to 140 bundles: the whole linked translations (BundleJit) must stop
// exactly where the general path does, with the same registers, counters and memory.
TEST(CpuFastPath, LinkedLoopsStopExactlyAtTheBudget) {
    const std::string src = R"(
_start:
        { setwd wsz=16, nfx=1; disp %ctpr2, fill; addd,0 0, 0x200000, %dr1; addd,1 0, 1, %dr3 }
        { addd,0 0, 0x2000f0, %dr9 }
fill:
        { std,2 %dr3, [ %dr1 + 0 ]; std,5 %dr3, [ %dr1 + 8 ]; addd,0 %dr1, 16, %dr1; addd,1 %dr3, 1, %dr3; cmpbdb,3 %dr1, %dr9, %pred0 }
        { ct %ctpr2 ? %pred0 }
        { addd,0 0, 0x200000, %dr1; disp %ctpr2, sum; addd,1 0, 0, %dr10; addd,2 0, 0, %dr11 }
sum:
        { ldd,0 %dr1, 0, %dr4; ldd,2 %dr1, 8, %dr5; addd,1 %dr1, 16, %dr1; cmpbdb,4 %dr1, %dr9, %pred0 }
        { addd,0 %dr10, %dr4, %dr10; addd,1 %dr11, %dr5, %dr11; ct %ctpr2 ? %pred0 }
        { wait trap=1 }
)";
    auto run = [&](bool whole, uint64_t budget) {
        CpuHarness h(src);
        h.cpu->setUserMode(true);
        h.cpu->setBundleJit(whole);
        Outcome o;
        o.stop = h.run(budget);
        o.state = h.cpu->state();
        o.data.resize(256);
        h.mem->read(kData, o.data.data(), o.data.size());
        if (whole)
            for (const char* label : {"fill", "sum"})
                o.linked += h.cpu->fastPathLinks(h.image.symbols[label]);
        return o;
    };
    for (uint64_t budget = 1; budget <= 140; ++budget) {
        const Outcome linked = run(true, budget), general = run(false, budget);
        expectSame(linked, general, "budget " + std::to_string(budget));
        EXPECT_EQ(linked.linked, 2u);
        if (linked.stop.reason == StopReason::Budget) {
            EXPECT_EQ(linked.state.bundles, budget);
        }
        if (::testing::Test::HasFailure())
            return;
    }
    const Outcome done = run(true, 1000);
    ASSERT_EQ(done.stop.reason, StopReason::Wait) << done.stop.message;
    EXPECT_EQ(done.state.regs[10] + done.state.regs[11], 2u * 16 * 17 / 2); // 1, 1, .., 16, 16
}

// A linked loop whose predicated store rewrites a bundle of the loop (decoded and translated
// by then): the translation must leave that store to the interpreter, which drops the stale
// code, so the loop runs the new bundle from the next iteration on.
TEST(CpuFastPath, LinkedLoopRewritesItsOwnCode) {
    const std::string src = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; addd,0 0, tmpl, %dr1; addd,1 0, target, %dr2 }
        { ldd,0 %dr1, 0, %dr3; addd,1 0, 0, %dr0; addd,2 0, 0, %dr5 }
loop:
        { addd,0 %dr0, 1, %dr0; cmpbdb,1 %dr0, 19, %pred0; cmpedb,3 %dr0, 6, %pred1 }
        { std,2 %dr3, [ %dr2 + 0 ] ? %pred1 }
target:
        { addd,0 %dr5, 1, %dr5 }
        { ct %ctpr1 ? %pred0 }
        { wait trap=1 }
tmpl:
        { subd,0 %dr5, 1, %dr5 }
)";
    const Outcome fast = runBoth(src);
    EXPECT_EQ(fast.state.regs[0], 20u);
    EXPECT_EQ(fast.state.regs[5], uint64_t(6 - 14)); // +1 six times, then -1
}

namespace {
// Lowers the CPU's interrupt line on any 8-byte write to its one register (the "device"
// acknowledging the interrupt).
struct AcknowledgingDevice : MmioBus {
    Cpu* cpu = nullptr;
    bool read(uint64_t, unsigned, uint64_t&, uint8_t) override { return false; }
    bool write(uint64_t addr, unsigned size, uint64_t, uint8_t) override {
        if (addr != 0x8000000 || size != 8)
            return false;
        cpu->setInterruptLine(false);
        return true;
    }
};
} // namespace

// An interrupt raised by another thread while a linked loop runs with a budget far beyond the
// test's time: the translated code must notice it between bundles, so the handler runs and
// ends the loop.
TEST(CpuFastPath, InterruptReachesALinkedLoop) {
    const std::string src = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; rws,0 3, %psr }
loop:
        { addd,0 %dr0, 1, %dr0; cmpedb,1 %dg1, 0, %pred0 }
        { ct %ctpr1 ? %pred0 }
        { wait trap=1 }
        .align 2048
trap_table:
        { setwd wsz=4, nfx=1; addd,0 0, 0x8000000, %dg2 }
        { std,2 %dg2, [ %dg2 + 0 ]; addd,1 0, 1, %dg1 }
        { rwd,0 0, %tir.lo }
        { done }
)";
    CpuHarness h(src);
    AcknowledgingDevice device;
    device.cpu = h.cpu.get();
    h.mem->setBus(&device);
    ASSERT_EQ(h.run(100).reason, StopReason::Budget); // the loop spins, decoded and linked
    EXPECT_TRUE(h.cpu->fastPathLinks(h.image.symbols["loop"]));
    std::thread raiser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        h.cpu->setInterruptLine(true);
    });
    const StopInfo st = h.run(uint64_t(1) << 31); // seconds: far beyond the 20 ms
    raiser.join();
    ASSERT_EQ(st.reason, StopReason::Wait) << st.message;
    EXPECT_EQ(h.global(1), 1u);
    EXPECT_GT(h.reg(0), 100u);
}

// Loads and stores of 1, 2 and 4 bytes, a misaligned load (the translation leaves it to the
// interpreter) and a register swap (no in-place order: every result deferred), in a loop of
// whole translations, with and without dbl: the same results as the general path.
TEST(CpuFastPath, LinkedNarrowAccessesAndDeferredResults) {
    for (const char* dbl : {"", ", dbl=1"}) {
        const std::string src =
            std::string(R"(
_start:
        { setwd wsz=8, nfx=1)") +
            dbl +
            R"(; disp %ctpr1, l1; addd,0 0, 0x200000, %dr7; addd,1 0, 0, %dr0; addd,2 0, 5, %dr1 }
l1:
        { stb,2 %dr0, [ %dr7 + 1 ]; sth,5 %dr0, [ %dr7 + 6 ]; addd,0 %dr0, 0x1234567, %dr0; cmpbdb,1 %dr0, 0x10000000, %pred0 }
l2:
        { stw,2 %dr0, [ %dr7 + 12 ]; ldw,0 %dr7, 4, %dr4; ldb,5 %dr7, 1, %dr6 }
l3:
        { addd,0 %dr1, 3, %dr2; subs,1 %dr2, %dr0, %dr1; adds,3 %dr6, %dr5, %dr3; ldw,2 %dr7, 12, %dr8; ldh,5 %dr7, 6, %dr5; ct %ctpr1 ? %pred0 }
l4:
        { ldw,0 %dr7, 3, %dr9; ldh,2 %dr7, 6, %dr10 }
        { wait trap=1 }
)";
        const Outcome fast = runBoth(src);
        EXPECT_NE(fast.state.regs[8], 0u);
        CpuHarness h(src);
        h.cpu->setUserMode(true);
        for (const char* label : {"l1", "l2", "l3", "l4"})
            EXPECT_TRUE(h.cpu->fastPathLinks(h.image.symbols[label])) << label;
    }
}

// Linked loops whose loads from one register (checked as a group: lowest and highest address)
// walk down under the low guard and up past the end of RAM: the fault comes at the same
// bundle, with the same state, as on the general path.
TEST(CpuFastPath, GroupedLoadsFaultAtBothEndsOfRam) {
    const std::string down = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; addd,0 0, 0x1040, %dr1; addd,1 0, 0, %dr5 }
loop:
        { ldd,0 %dr1, 16, %dr2; ldd,2 %dr1, 0, %dr3; ldd,3 %dr1, 8, %dr4; subd,1 %dr1, 8, %dr1; addd,4 %dr5, 1, %dr5 }
        { ct %ctpr1 }
)";
    const std::string up = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, loop; addd,0 0, 0x3ffff40, %dr1; addd,1 0, 0, %dr5 }
loop:
        { ldd,0 %dr1, 0, %dr2; ldd,2 %dr1, 24, %dr3; ldd,3 %dr1, 8, %dr4; addd,1 %dr1, 8, %dr1; addd,4 %dr5, 1, %dr5 }
        { ct %ctpr1 }
)";
    for (const std::string& src : {down, up}) {
        const Outcome general = runProgram(src, false, true, 0x1000);
        ASSERT_EQ(general.stop.reason, StopReason::Exception) << general.stop.message;
        EXPECT_EQ(general.stop.exc, ExcNum::DataPage);
        EXPECT_GT(general.state.regs[5], 5u);
        for (const bool whole : {true, false})
            expectSame(runProgram(src, true, true, 0x1000, whole), general, src);
        CpuHarness h(src);
        EXPECT_TRUE(h.cpu->fastPathLinks(h.image.symbols["loop"]));
    }
}

// Multiplies, rotates and moves (ops with no inline interpreter code) translated inside linked
// bundles: 32-bit results keep the upper half of their register unless the window is dbl.
TEST(CpuFastPath, LinkedMultipliesRotatesAndMoves) {
    for (const char* dbl : {"", ", dbl=1"}) {
        const std::string src = std::string(R"(
_start:
        { setwd wsz=8, nfx=1)") +
                                dbl + R"(; disp %ctpr1, l0; addd,0 0, 0, %dr6 }
        { addd,0 0, 0x5555aaaa80000001, %dr0; addd,1 0, 0x1234567890abcdef, %dr1 }
        { addd,0 0, 0x7777777777777777, %dr2; addd,1 0, 0x6666666666666666, %dr3 }
        { addd,0 0, 0x4444444444444444, %dr4; addd,1 0, 0x3333333333333333, %dr5 }
l0:
        { cmpbdb,0 %dr6, 5, %pred0 }
l1:
        { muls,0 %r0, %r1, %r2; scls,1 %r0, 3, %r3; scrs,3 %r1, 5, %r4; movts,4 %r1, %r5 }
l2:
        { umulx,0 %r0, %r1, %dr7; smulx,1 %r0, %r1, %dr8; muld,3 %dr0, %dr1, %dr9; scld,4 %dr1, 7, %dr10 }
l3:
        { addd,0 %dr0, %dr3, %dr0; addd,3 %dr1, %dr9, %dr1; addd,1 %dr6, 1, %dr6; ct %ctpr1 ? %pred0 }
        { wait trap=1 }
)";
        const Outcome fast = runBoth(src);
        EXPECT_EQ(fast.state.regs[6], 6u);
        CpuHarness h(src);
        for (const char* label : {"l0", "l1", "l2", "l3"})
            EXPECT_TRUE(h.cpu->fastPathLinks(h.image.symbols[label])) << label;
    }
}

// Two loop bundles 32 KiB apart share a decoded-cache slot, so every iteration decodes and
// translates both again: the 16 MiB code area fills up (twice in 80000 translations of about
// 400 bytes) and starts over mid-run. Results as on the general path.
TEST(CpuFastPath, CodeAreaStartsOverWhileLinkedCodeRuns) {
    const std::string src = R"(
_start:
        { setwd wsz=8, nfx=1; disp %ctpr1, a; addd,0 0, 0, %dr0 }
        { ct %ctpr1 }
        .align 32768
a:
        { addd,0 %dr0, 1, %dr0; xord,1 %dr1, %dr0, %dr1; addd,2 %dr2, %dr1, %dr2; shld,3 %dr3, 1, %dr3; cmpbdb,4 %dr0, 40000, %pred0; ord,5 %dr5, %dr2, %dr5 }
        { ibranch b }
        .align 32768
b:
        { subd,0 %dr4, %dr0, %dr4; andd,1 %dr6, %dr2, %dr6; addd,2 %dr7, 3, %dr7; sard,3 %dr1, 2, %dr8; xord,4 %dr9, %dr4, %dr9; ct %ctpr1 ? %pred0 }
        { wait trap=1 }
)";
    auto run = [&](bool fast) {
        CpuHarness h(src);
        h.cpu->setUserMode(true);
        h.cpu->setFastPath(fast);
        Outcome o;
        o.stop = h.run(1000000);
        o.state = h.cpu->state();
        if (fast)
            o.linked = h.cpu->fastPathLinks(h.image.symbols["a"]) +
                       h.cpu->fastPathLinks(h.image.symbols["b"]);
        return o;
    };
    const Outcome fast = run(true), general = run(false);
    ASSERT_EQ(general.stop.reason, StopReason::Wait) << general.stop.message;
    EXPECT_EQ(general.state.regs[0], 40001u); // (the compare sees the value before the add)
    expectSame(fast, general, src);
    EXPECT_EQ(fast.linked, 2u);
}

// A conditional ct translated while its CTPR holds no disp label (an sdisp entry), then taken
// with that same value: the guest's exception, as on the general path, never a jump.
TEST(CpuFastPath, LinkedCtThroughASystemLabelFaults) {
    const std::string src = R"(
_start:
        { setwd wsz=8, nfx=1; sdisp %ctpr1, 3; cmpedb,0 0, 1, %pred0 }
        { disp %ctpr2, loop }
loop:
        { ct %ctpr1 ? %pred0 }
        { cmpedb,0 0, 0, %pred0; addd,1 %dr1, 1, %dr1; ct %ctpr2 }
        { wait trap=1 }
)";
    const Outcome general = runProgram(src, false);
    ASSERT_EQ(general.stop.reason, StopReason::Exception) << general.stop.message;
    EXPECT_EQ(general.state.regs[1], 1u);
    for (const bool whole : {true, false})
        expectSame(runProgram(src, true, true, 0, whole), general, src);
    CpuHarness h(src);
    h.cpu->setUserMode(true);
    ASSERT_EQ(h.run(3).reason, StopReason::Budget);
    EXPECT_TRUE(h.cpu->fastPathLinks(h.image.symbols["loop"])); // (translated by now)
}

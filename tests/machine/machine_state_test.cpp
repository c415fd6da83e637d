// Saved machine state (emu/machine/MachineState): a machine that goes on from a loaded state
// does exactly what it did going on from the save point (serial output and the whole state
// after it, compared as saved streams); damaged, truncated, foreign or mismatched streams are
// refused with an error and leave the machine as it was; the runner's savevm/loadvm handshakes
// stop and resume a running machine as QEMU does.
#include "MachineHarness.h"
#include "emu/machine/MachineState.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

// Runs `bundles` bundles of virtual time the way a deterministic runner does: an idle CPU
// jumps to the timer's deadline; with none, nothing more happens.
void runFor(Machine& m, uint64_t bundles) {
    const uint64_t end = m.virtualTimeNs() + bundles;
    while (m.virtualTimeNs() < end) {
        MachineStop s = m.run(end - m.virtualTimeNs());
        ASSERT_NE(s.kind, MachineStop::Fault) << s.detail;
        if (s.kind == MachineStop::PowerOff)
            return;
        if (s.kind == MachineStop::Idle) {
            auto d = m.nextDeadline();
            if (!d || *d > end) {
                m.passTimeTo(end);
                return;
            }
            m.passTimeTo(*d);
        }
    }
}

struct Recorded {
    std::string serial;
    std::vector<uint8_t> state;
};

// From where `m` stands: three timer periods, a key press and release, more time.
Recorded goOn(Machine& m) {
    Recorded r;
    m.setSerialOutput([&](const char* d, size_t n) { r.serial.append(d, n); });
    runFor(m, 350'000);
    m.keyEvent(0x1E, true);
    runFor(m, 5'000);
    m.keyEvent(0x1E, false);
    runFor(m, 900'000);
    m.setSerialOutput(nullptr);
    r.state = MachineState::save(m);
    return r;
}

} // namespace

TEST(MachineState, GoingOnFromALoadedStateRepeatsTheRunExactly) {
    Machine a(kernelConfig("irq"));
    runFor(a, 420'000); // inside the timer sequence: four interrupts taken
    const std::vector<uint8_t> saved = MachineState::save(a);
    const uint64_t bundlesAtSave = a.bundlesExecuted();
    Recorded first = goOn(a);
    ASSERT_NE(first.serial.find('T'), std::string::npos) << first.serial;
    ASSERT_NE(first.serial.find("\x1E"
                                "D"),
              std::string::npos)
        << first.serial;

    // The same machine, put back.
    MachineState::load(a, saved);
    EXPECT_EQ(a.bundlesExecuted(), bundlesAtSave);
    Recorded again = goOn(a);
    EXPECT_EQ(again.serial, first.serial);
    EXPECT_TRUE(again.state == first.state);

    // A new machine of the same configuration.
    Machine b(kernelConfig("irq"));
    runFor(b, 1'000); // in a different state before the load
    MachineState::load(b, saved);
    Recorded fresh = goOn(b);
    EXPECT_EQ(fresh.serial, first.serial);
    EXPECT_TRUE(fresh.state == first.state);
}

TEST(MachineState, TheFramebufferShowsAndCountsAsBefore) {
    Machine a(kernelConfig("framebuffer"));
    std::string serial;
    a.setSerialOutput([&](const char* d, size_t n) { serial.append(d, n); });
    for (int i = 0; i < 200 && serial.find('A') == std::string::npos; ++i)
        runFor(a, 100'000);
    ASSERT_NE(serial.find('A'), std::string::npos);
    const std::vector<uint8_t> saved = MachineState::save(a);
    auto finish = [](Machine& m) {
        m.serialInput("x");
        runFor(m, 2'000'000);
        return std::make_pair(m.framebuffer().framesPublished(), MachineState::save(m));
    };
    auto first = finish(a);

    Machine b(kernelConfig("framebuffer"));
    MachineState::load(b, saved);
    EXPECT_TRUE(b.framebuffer().enabled());
    auto frame = b.display().latest();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->width, 64); // the loaded picture is on the display at once
    auto second = finish(b);
    EXPECT_EQ(second.first, first.first);
    EXPECT_TRUE(second.second == first.second);
}

TEST(MachineState, DamagedOrTruncatedStreamsAreRefusedAndChangeNothing) {
    Machine m(kernelConfig("irq"));
    runFor(m, 250'000);
    const std::vector<uint8_t> good = MachineState::save(m);
    Machine other(kernelConfig("irq"));
    runFor(other, 1'000);
    const std::vector<uint8_t> before = MachineState::save(other);

    for (size_t len : {size_t(0), size_t(4), size_t(8), size_t(27), size_t(28), size_t(100),
                       good.size() / 2, good.size() - 1}) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + std::ptrdiff_t(len));
        EXPECT_THROW(MachineState::load(other, cut), MachineStateError) << len;
    }
    std::vector<uint8_t> longer = good;
    longer.push_back(0);
    EXPECT_THROW(MachineState::load(other, longer), MachineStateError);
    for (size_t at :
         {size_t(8), size_t(12), size_t(20), size_t(40), good.size() / 3, good.size() - 3}) {
        std::vector<uint8_t> bad = good;
        bad[at] ^= 0x40;
        EXPECT_THROW(MachineState::load(other, bad), MachineStateError) << at;
    }
    std::vector<uint8_t> qemu = {'Q', 'E', 'V', 'M', 0, 0, 0, 3};
    try {
        MachineState::load(other, qemu);
        ADD_FAILURE() << "QEMU's stream was loaded";
    } catch (const MachineStateError& e) {
        EXPECT_NE(std::string(e.what()).find("saved by QEMU"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(MachineState::save(other) == before);

    // A machine of another shape.
    MachineConfig bigger = kernelConfig("irq");
    bigger.ramBytes = 64ull << 20;
    Machine big(bigger);
    try {
        MachineState::load(big, good);
        ADD_FAILURE() << "loaded into 64 MiB";
    } catch (const MachineStateError& e) {
        EXPECT_NE(std::string(e.what()).find("32 MiB of RAM"), std::string::npos) << e.what();
    }
    MachineConfig wide = kernelConfig("irq");
    wide.displayWidth = 800;
    Machine w(wide);
    EXPECT_THROW(MachineState::load(w, good), MachineStateError);

    // The good stream still loads.
    MachineState::load(other, good);
    EXPECT_TRUE(MachineState::save(other) == good);
}

TEST(MachineState, RunnerStopsARunningMachineForSaveAndLoad) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->start();
    ASSERT_TRUE(eventually([&] { return r.runner->bundlesExecuted() > 100'000; }));
    std::vector<uint8_t> saved;
    uint64_t savedTime = 0;
    RunState during = RunState::Prelaunch;
    r.runner->saveState([&](const std::vector<uint8_t>& s, uint64_t t) {
        saved = s;
        savedTime = t;
        during = r.runner->state();
    });
    EXPECT_EQ(during, RunState::Paused);
    EXPECT_EQ(r.runner->state(), RunState::Running);
    EXPECT_GT(savedTime, 0u);
    uint64_t counterAtSave = 0;
    {
        Machine probe(kernelConfig("spin"));
        MachineState::load(probe, saved);
        counterAtSave = probe.memory().load(0x400000, 8);
    }
    ASSERT_TRUE(eventually([&] { return r.runner->virtualTimeNs() > savedTime + 100'000; }));

    r.runner->pause();
    r.runner->loadState([&] { return saved; });
    EXPECT_EQ(r.runner->state(), RunState::Paused); // a paused machine stays paused
    uint64_t counter = 0;
    r.runner->runOnMachine([&](Machine& m) { counter = m.memory().load(0x400000, 8); });
    EXPECT_EQ(counter, counterAtSave);
    EXPECT_EQ(r.runner->virtualTimeNs(), savedTime);

    r.runner->resume();
    auto stopsBefore = r.events().size();
    r.runner->loadState([&] { return saved; });
    EXPECT_EQ(r.runner->state(), RunState::Running); // a running one runs on from the state
    auto ev = r.events();
    ASSERT_GE(ev.size(), stopsBefore + 2);
    EXPECT_EQ(ev[stopsBefore].kind, MachineEvent::Stop);
    EXPECT_EQ(ev[stopsBefore + 1].kind, MachineEvent::Resume);

    // A failed load leaves it stopped (QEMU's "restore-vm"), and cont runs it on.
    auto refuse = [] { return std::vector<uint8_t>{1, 2, 3}; };
    EXPECT_THROW(r.runner->loadState(refuse), MachineStateError);
    EXPECT_EQ(r.runner->state(), RunState::RestoreVm);
    EXPECT_STREQ(runStateName(r.runner->state()), "restore-vm");
    r.runner->resume();
    EXPECT_EQ(r.runner->state(), RunState::Running);
}

// Saving reads only the RAM pages the guest has touched: a machine with 1 GiB of RAM of which
// the program uses little does not come out of the save with all of it mapped in.
TEST(MachineState, SavingDoesNotMapInUntouchedRam) {
    MachineConfig c = kernelConfig("echo");
    c.ramBytes = 1ull << 30;
    Machine m(c);
    m.run(100000);
    uint8_t* ram = m.memory().ramPointer(0, c.ramBytes);
    auto residentPages = [&] {
        const size_t page = size_t(sysconf(_SC_PAGESIZE));
        std::vector<unsigned char> v(c.ramBytes / page);
        EXPECT_EQ(mincore(ram, c.ramBytes, v.data()), 0);
        return size_t(std::count_if(v.begin(), v.end(), [](unsigned char b) { return b & 1; }));
    };
    const size_t before = residentPages();
    const std::vector<uint8_t> saved = MachineState::save(m);
    EXPECT_LT(residentPages(), before + 1024) << "pages mapped in by the save";
    // What was saved still loads into a machine of the same shape.
    Machine other(c);
    MachineState::load(other, saved);
    EXPECT_TRUE(MachineState::save(other) == saved);
}

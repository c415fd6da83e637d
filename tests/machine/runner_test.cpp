// MachineRunner handshakes from another thread: start paused, pause/resume/reset/quit with
// their events and states, guest reset and power-off, internal errors from guest faults,
// and wall-clock pacing when not deterministic.
#include "MachineHarness.h"

#include <gtest/gtest.h>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

uint64_t counter(MachineRunner& r) {
    uint64_t v = 0;
    r.runOnMachine([&](Machine& m) { v = m.memory().load(0x400000, 8); });
    return v;
}

std::vector<MachineEvent::Kind> kinds(const std::vector<MachineEvent>& ev) {
    std::vector<MachineEvent::Kind> k;
    for (const auto& e : ev)
        k.push_back(e.kind);
    return k;
}

} // namespace

TEST(MachineRunner, StartPausedThenResume) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->start(true);
    EXPECT_EQ(r.runner->state(), RunState::Prelaunch);
    EXPECT_STREQ(runStateName(r.runner->state()), "prelaunch");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(counter(*r.runner), 0u);
    r.runner->resume();
    EXPECT_EQ(r.runner->state(), RunState::Running);
    EXPECT_TRUE(eventually([&] { return counter(*r.runner) > 1000; }));
    EXPECT_EQ(kinds(r.events()), std::vector{MachineEvent::Resume});
}

TEST(MachineRunner, PauseResumeResetQuitHandshakes) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->start();
    ASSERT_TRUE(eventually([&] { return counter(*r.runner) > 1000; }));

    r.runner->pause();
    EXPECT_EQ(r.runner->state(), RunState::Paused);
    uint64_t a = counter(*r.runner), bundles = r.runner->bundlesExecuted();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(counter(*r.runner), a);
    EXPECT_EQ(r.runner->bundlesExecuted(), bundles);
    r.runner->pause(); // already paused: no second STOP

    r.runner->resume();
    EXPECT_EQ(r.runner->state(), RunState::Running);
    ASSERT_TRUE(eventually([&] { return counter(*r.runner) > a; }));

    r.runner->pause();
    r.runner->reset(); // while paused: stays paused, RAM and time start over
    EXPECT_EQ(r.runner->state(), RunState::Paused);
    EXPECT_EQ(counter(*r.runner), 0u);
    EXPECT_EQ(r.runner->virtualTimeNs(), 0u);
    r.runner->resume();
    ASSERT_TRUE(eventually([&] { return counter(*r.runner) > 0; }));

    r.runner->quit();
    EXPECT_EQ(r.runner->state(), RunState::Shutdown);
    r.runner->quit(); // idempotent
    auto ev = r.events();
    EXPECT_EQ(kinds(ev),
              (std::vector{MachineEvent::Stop, MachineEvent::Resume, MachineEvent::Stop,
                           MachineEvent::Reset, MachineEvent::Resume, MachineEvent::Shutdown}));
    EXPECT_EQ(ev[3].detail, "host-qmp-system-reset");
    EXPECT_EQ(ev.back().detail, "host-qmp-quit");
    // After the thread ended, runOnMachine still works (on the caller's thread).
    EXPECT_GT(counter(*r.runner), 0u);
}

TEST(MachineRunner, HandshakesFromManyThreads) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->start();
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                r.runner->pause();
                r.runner->resume();
                r.runner->runOnMachine([](Machine& m) { (void)m.virtualTimeNs(); });
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(r.runner->state(), RunState::Running);
    r.runner->quit();
    EXPECT_EQ(r.runner->state(), RunState::Shutdown);
}

TEST(MachineRunner, QuitWithoutStart) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->quit();
    EXPECT_EQ(r.runner->state(), RunState::Shutdown);
    EXPECT_EQ(kinds(r.events()), std::vector{MachineEvent::Shutdown});
}

TEST(MachineRunner, GuestResetRebootsTheMachine) {
    RecordingRunner r(kernelConfig("reboot"));
    r.runner->start();
    ASSERT_TRUE(r.waitForSerial("RRR"));
    r.runner->quit();
    auto ev = r.events();
    ASSERT_GE(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, MachineEvent::Reset);
    EXPECT_EQ(ev[0].detail, "guest-reset");
    EXPECT_EQ(ev.back().kind, MachineEvent::Shutdown);
}

TEST(MachineRunner, GuestFaultWithoutHandlerIsAnInternalError) {
    RecordingRunner r(kernelConfig("fault"));
    r.runner->start();
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Error));
    EXPECT_EQ(r.runner->state(), RunState::InternalError);
    EXPECT_STREQ(runStateName(r.runner->state()), "internal-error");
    auto ev = r.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_NE(ev[0].detail.find("exc_"), std::string::npos) << ev[0].detail;
    EXPECT_NE(ev[0].detail.find("at IP 0x1000"), std::string::npos) << ev[0].detail;
    EXPECT_NE(ev[0].detail.find("bundle: {"), std::string::npos) << ev[0].detail;
    // A reset brings it back to life: it runs again, and faults again.
    r.runner->reset();
    ASSERT_TRUE(eventually([&] { return r.events().size() >= 3; }));
    ev = r.events();
    EXPECT_EQ(ev[1].kind, MachineEvent::Reset);
    EXPECT_EQ(ev[2].kind, MachineEvent::Error);
}

TEST(MachineRunner, NeverRunsAheadOfTheWallClock) {
    MachineConfig c = kernelConfig("spin");
    c.deterministic = false;
    RecordingRunner r(c);
    auto t0 = std::chrono::steady_clock::now();
    r.runner->start();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    uint64_t v = 0;
    r.runner->runOnMachine([&](Machine& m) { v = m.virtualTimeNs(); });
    auto wall =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_GT(v, 0u);
    EXPECT_LE(v, uint64_t(wall));
}

TEST(MachineRunner, ABusyGuestKeepsWallClockTime) {
    // "spin" never idles: on bundles alone its clock would gain one nanosecond per bundle, a
    // few percent of real time at interpreter speed. Following the wall clock, the time it is
    // moved on by soon exceeds the time its bundles account for.
    MachineConfig c = kernelConfig("spin");
    c.deterministic = false;
    RecordingRunner r(c);
    r.runner->start();
    constexpr uint64_t kMs = 1'000'000;
    EXPECT_TRUE(eventually([&] {
        uint64_t bundles = r.runner->bundlesExecuted();
        uint64_t v = r.runner->virtualTimeNs();
        return v >= 200 * kMs && v > bundles + 100 * kMs;
    }));
}

TEST(MachineRunner, DeterministicTimeIsTheBundleCount) {
    RecordingRunner r(kernelConfig("spin"));
    r.runner->start();
    ASSERT_TRUE(eventually([&] { return counter(*r.runner) > 1000; }));
    r.runner->pause();
    EXPECT_EQ(r.runner->virtualTimeNs(), r.runner->bundlesExecuted());
}

TEST(MachineRunner, ConfigErrorsNameTheProblem) {
    MachineConfig c = kernelConfig("spin");
    c.ramBytes = 1 << 20;
    EXPECT_THROW(MachineRunner bad(c), std::runtime_error);
    c = kernelConfig("no-such-program");
    try {
        MachineRunner bad(c);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-program"), std::string::npos);
    }
    c = MachineConfig{};
    EXPECT_THROW(MachineRunner bad(c), std::runtime_error); // nothing to boot
}

TEST(MachineRunner, ConcurrentQuitAndQuitFromACallback) {
    {
        RecordingRunner r(kernelConfig("spin"));
        r.runner->start();
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i)
            threads.emplace_back([&] { r.runner->quit(); });
        for (auto& t : threads)
            t.join();
        EXPECT_EQ(r.runner->state(), RunState::Shutdown);
        EXPECT_EQ(kinds(r.events()), std::vector{MachineEvent::Shutdown});
    }
    // The echo guest powers off on 'q'; the event callback asks the runner to quit.
    MachineRunner runner(kernelConfig("echo"));
    std::atomic<int> shutdowns{0};
    runner.setEventCallback([&](const MachineEvent& e) {
        if (e.kind == MachineEvent::Shutdown) {
            ++shutdowns;
            runner.quit();
        }
    });
    runner.start();
    runner.serialInput("q");
    ASSERT_TRUE(eventually([&] { return shutdowns.load() == 1; }));
    runner.quit();
    EXPECT_EQ(shutdowns.load(), 1);
}

TEST(MachineRunner, CallsBeforeStartRunOnTheCallersThread) {
    MachineRunner runner(kernelConfig("echo"));
    std::string out;
    runner.setSerialOutput([&](const char* d, size_t n) { out.append(d, n); });
    runner.runOnMachine([&](Machine& m) {
        m.serialInput("z");
        EXPECT_EQ(m.memory().load(0xF0002008, 8), 3u); // RX data available, TX ready
    });
    runner.serialInput("y");
    runner.input().keyEvent(0x10, true);
    runner.runOnMachine([&](Machine& m) { EXPECT_EQ(m.memory().load(0xF0006008, 8), 1u); });
    runner.start();
    runner.serialInput("q");
    ASSERT_TRUE(eventually([&] { return runner.state() == RunState::Shutdown; }));
    runner.quit();
    EXPECT_EQ(out, "zyq");
}

TEST(MachineRunner, SerialInputWhilePausedIsBounded) {
    RecordingRunner r(kernelConfig("echo"));
    r.runner->start();
    r.runner->pause();
    std::string chunk(1000, 'a');
    for (int i = 0; i < 70; ++i)
        r.runner->serialInput(chunk); // 70 000 bytes into a 64 KiB receive FIFO
    r.runner->resume();
    ASSERT_TRUE(r.waitForSerial(std::string(65536, 'a')));
    r.runner->serialInput("q");
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Shutdown));
    EXPECT_EQ(r.serial(), std::string(65536, 'a') + "q");
}

TEST(MachineRunner, RunOnMachineExceptionsReachTheCaller) {
    RecordingRunner r(kernelConfig("spin"));
    EXPECT_THROW(r.runner->runOnMachine([](Machine&) { throw std::runtime_error("before"); }),
                 std::runtime_error);
    r.runner->start();
    EXPECT_THROW(r.runner->runOnMachine([](Machine&) { throw std::runtime_error("during"); }),
                 std::runtime_error);
    EXPECT_EQ(r.runner->state(), RunState::Running);
    r.runner->quit();
    EXPECT_THROW(r.runner->runOnMachine([](Machine&) { throw std::runtime_error("after"); }),
                 std::runtime_error);
}

TEST(MachineRunner, ATrapHandlerThatFaultsOnItselfStopsAtOnce) {
    // fault.s's handler divides by zero at its second bundle: every trap nests another one at
    // that bundle. The machine stops after a few, long before the chain stack would run out.
    Machine m(kernelConfig("fault"));
    MachineStop stop = m.run(100000);
    ASSERT_EQ(stop.kind, MachineStop::Fault);
    EXPECT_NE(stop.detail.find("nested traps"), std::string::npos) << stop.detail;
    EXPECT_NE(stop.detail.find("at IP 0x100010"), std::string::npos) << stop.detail;
    EXPECT_LE(m.cpu().tirs().size(), 9u);
    EXPECT_LT(m.cpu().state().bundles, 100u);
}

TEST(MachineRunner, ResetEmptiesTheTrapInformation) {
    Machine m(kernelConfig("fault"));
    MachineStop stop;
    for (int i = 0; i < 1000 && stop.kind != MachineStop::Fault; ++i)
        stop = m.run(100000);
    ASSERT_EQ(stop.kind, MachineStop::Fault);
    EXPECT_FALSE(m.cpu().tirs().empty());
    m.reset();
    EXPECT_TRUE(m.cpu().tirs().empty());
    EXPECT_EQ(m.cpu().state().ip, 0x100018u); // _start, after the 24-byte trap entry
    EXPECT_EQ(m.virtualTimeNs(), 0u);
}

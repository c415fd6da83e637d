// Serial port and power-off through the run loop: bytes sent to the guest come back, 'q'
// powers the machine off (SHUTDOWN "guest-shutdown", state shutdown).
#include "MachineHarness.h"

#include <gtest/gtest.h>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

TEST(MachineSerial, EchoesInputAndPowersOff) {
    RecordingRunner r(kernelConfig("echo"));
    r.runner->start();
    r.runner->serialInput("hello, e2k");
    ASSERT_TRUE(r.waitForSerial("hello, e2k")) << r.serial();
    EXPECT_EQ(r.runner->state(), RunState::Running);
    r.runner->serialInput("!q");
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Shutdown)) << r.serial();
    EXPECT_EQ(r.serial(), "hello, e2k!q");
    EXPECT_EQ(r.runner->state(), RunState::Shutdown);
    auto ev = r.events();
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].detail, "guest-shutdown");
    r.runner->quit();
    EXPECT_EQ(r.events().size(), 1u); // no second SHUTDOWN for the quit
}

TEST(MachineSerial, InputBeforeStartIsKept) {
    RecordingRunner r(kernelConfig("echo"));
    r.runner->serialInput("abcq");
    r.runner->start();
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Shutdown));
    EXPECT_EQ(r.serial(), "abcq");
}

TEST(MachineSerial, IdleMachineDoesNotAdvanceTimeWithoutTimer) {
    RecordingRunner r(kernelConfig("echo"));
    r.runner->start();
    r.runner->serialInput("x");
    ASSERT_TRUE(r.waitForSerial("x"));
    uint64_t b0 = 0;
    r.runner->runOnMachine([&](Machine& m) { b0 = m.bundlesExecuted(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t b1 = 0;
    r.runner->runOnMachine([&](Machine& m) { b1 = m.bundlesExecuted(); });
    EXPECT_EQ(b0, b1); // blocked on the command queue, not spinning
}

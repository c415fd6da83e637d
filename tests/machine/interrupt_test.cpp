// Interrupts through the run loop: a periodic timer counted by the guest's trap handler (idle
// time skipped in `wait`), and keyboard events from InputSink delivered by interrupt.
#include "MachineHarness.h"

#include <gtest/gtest.h>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

TEST(MachineInterrupts, TimerInterruptsAreCountedByTheTrapHandler) {
    RecordingRunner r(kernelConfig("irq"));
    r.runner->start();
    ASSERT_TRUE(r.waitForSerial("T")) << r.serial();
    EXPECT_EQ(r.serial(), "T");
    uint64_t handled = 0, ticks = 0, now = 0, bundles = 0;
    r.runner->runOnMachine([&](Machine& m) {
        handled = m.cpu().state().regs[224 + 1]; // %dg1
        ticks = m.memory().load(0xF0003028, 8);
        now = m.virtualTimeNs();
        bundles = m.bundlesExecuted();
    });
    EXPECT_EQ(handled, 10u);
    EXPECT_EQ(ticks, 10u);
    // Ten periods of 100 us passed in virtual time, mostly skipped while idle.
    EXPECT_GE(now, 1'000'000u);
    EXPECT_LT(now, 1'100'000u);
    EXPECT_LT(bundles, 10'000u);
    // The timer is off now: time stands still while the guest idles without a deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t later = 0;
    r.runner->runOnMachine([&](Machine& m) { later = m.virtualTimeNs(); });
    EXPECT_EQ(later, now);
}

TEST(MachineInterrupts, KeyboardEventsRaiseInterrupts) {
    RecordingRunner r(kernelConfig("irq"));
    r.runner->start();
    ASSERT_TRUE(r.waitForSerial("T"));
    r.runner->input().keyEvent(0x1E, true);
    ASSERT_TRUE(r.waitForSerial("\x1E"
                                "D"))
        << r.serial();
    r.runner->input().keyEvent(0x1E, false);
    r.runner->input().keyEvent(0xE01D, true); // extended: low byte 0x1D
    ASSERT_TRUE(r.waitForSerial("\x1D"
                                "D"))
        << r.serial();
    EXPECT_EQ(r.serial(), "T\x1E"
                          "D\x1E"
                          "U\x1D"
                          "D");
}

TEST(MachineInterrupts, KeyboardFifoDropsBeyondCapacity) {
    Machine m(kernelConfig("echo"));
    for (int i = 0; i < 100; ++i)
        m.keyEvent(uint16_t(i), true);
    int n = 0;
    while (m.memory().load(0xF0006008, 8) & 1) {
        uint64_t v = m.memory().load(0xF0006000, 8);
        EXPECT_EQ(v, (uint64_t(1) << 63) | uint64_t(n));
        ++n;
    }
    EXPECT_EQ(n, 64);
    EXPECT_EQ(m.memory().load(0xF0006000, 8), 0u);
}

TEST(MachineInterrupts, PointerReportsPositionAndChange) {
    Machine m(kernelConfig("echo"));
    GuestMemory& mem = m.memory();
    mem.store(0xF0001008, 8, 1u << 3); // controller: line 3 enabled
    mem.store(0xF0007020, 8, 1);       // pointer interrupt enable
    EXPECT_EQ(mem.load(0xF0001000, 8), 0u);
    m.pointerEvent(40000, 123, 5);
    EXPECT_EQ(mem.load(0xF0001000, 8), 1u << 3);
    EXPECT_EQ(mem.load(0xF0001010, 8), 3u); // NEXT
    EXPECT_EQ(mem.load(0xF0007018, 8), 1u);
    EXPECT_EQ(mem.load(0xF0007000, 8), 32767u); // clamped; reading X clears "changed"
    EXPECT_EQ(mem.load(0xF0007008, 8), 123u);
    EXPECT_EQ(mem.load(0xF0007010, 8), 5u);
    EXPECT_EQ(mem.load(0xF0007018, 8), 0u);
    EXPECT_EQ(mem.load(0xF0001000, 8), 0u);
    EXPECT_EQ(mem.load(0xF0001010, 8), ~uint64_t(0));
}

TEST(MachineInterrupts, RegisterAccessSizes) {
    Machine m(kernelConfig("echo"));
    GuestMemory& mem = m.memory();
    EXPECT_EQ(mem.load(0xF0000000, 8), 0x4D564B324532u);
    EXPECT_EQ(mem.load(0xF0000000, 4), 0x4B324532u);
    EXPECT_EQ(mem.load(0xF0000000, 2), 0u); // other sizes read 0
    EXPECT_EQ(mem.load(0xF0000004, 4), 0u); // unaligned offsets read 0
    EXPECT_EQ(mem.load(0xF0000008, 8), 32u << 20);
    EXPECT_EQ(mem.load(0xF0000FF8, 8), 0u);                // unassigned offset
    EXPECT_THROW(mem.load(0xF0008000, 8), GuestException); // no device there
    EXPECT_EQ(mem.load(0xF0004000, 8), 1767225600u);       // deterministic RTC start
}

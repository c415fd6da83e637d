// Framebuffer through the run loop: the guest's picture reaches FramePublisher listeners, the
// dirty rectangle of an update is exactly what the guest painted, and bad modes are refused.
#include "MachineHarness.h"

#include <gtest/gtest.h>

using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

uint32_t pattern(int x, int y) {
    return uint32_t(x) << 16 | uint32_t(y) << 8 | 0x5A;
}

} // namespace

TEST(MachineFramebuffer, PatternThenDirtyRectangle) {
    RecordingRunner r(kernelConfig("framebuffer"));
    FramePublisher& display = r.runner->display();
    int id = display.subscribe(nullptr);
    // Before the guest turns the display on: black 640x480.
    auto blank = display.take(id);
    ASSERT_TRUE(blank);
    EXPECT_EQ(blank->image->width, 640);
    EXPECT_EQ(blank->image->height, 480);
    EXPECT_EQ(blank->image->pixel(320, 240), 0u);

    r.runner->start();
    ASSERT_TRUE(r.waitForSerial("A"));
    auto first = display.take(id);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->resized);
    EXPECT_EQ(first->image->width, 64);
    EXPECT_EQ(first->image->height, 48);
    EXPECT_EQ(first->dirty, (Rect{0, 0, 64, 48}));
    for (int y : {0, 1, 17, 47})
        for (int x : {0, 5, 33, 63})
            EXPECT_EQ(first->image->pixel(x, y), pattern(x, y)) << x << "," << y;

    r.runner->serialInput("g");
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Shutdown));
    EXPECT_EQ(r.serial(), "AB");
    auto second = display.take(id);
    ASSERT_TRUE(second);
    EXPECT_FALSE(second->resized);
    EXPECT_EQ(second->dirty, (Rect{5, 10, 10, 10}));
    EXPECT_EQ(second->image->pixel(5, 10), 0xFFFFFFu);
    EXPECT_EQ(second->image->pixel(14, 19), 0xFFFFFFu);
    EXPECT_EQ(second->image->pixel(15, 19), pattern(15, 19));
    EXPECT_EQ(second->image->pixel(4, 10), pattern(4, 10));
    EXPECT_EQ(second->image->pixel(5, 20), pattern(5, 20));
    uint64_t frames = 0;
    r.runner->runOnMachine([&](Machine& m) { frames = m.memory().load(0xF0005038, 8); });
    EXPECT_EQ(frames, 2u); // mode set + FLUSH; nothing changed afterwards
}

TEST(MachineFramebuffer, BadModesAreRejected) {
    Machine m(kernelConfig("echo"));
    GuestMemory& mem = m.memory();
    const uint64_t fb = 0xF0005000;
    auto setMode = [&](uint64_t base, uint64_t w, uint64_t h, uint64_t stride) {
        mem.store(fb + 0x00, 8, base);
        mem.store(fb + 0x08, 8, w);
        mem.store(fb + 0x10, 8, h);
        mem.store(fb + 0x18, 8, stride);
        mem.store(fb + 0x20, 8, 1);
        return mem.load(fb + 0x28, 8);
    };
    EXPECT_EQ(setMode(0x200000, 64, 48, 256), 1u);
    EXPECT_EQ(setMode(0x200000, 0, 48, 256), 2u);                  // zero width
    EXPECT_EQ(setMode(0x200000, 1921, 48, 8192), 2u);              // too wide
    EXPECT_EQ(setMode(0x200000, 64, 48, 200), 2u);                 // stride < 4 * width
    EXPECT_EQ(setMode(0x200002, 64, 48, 256), 2u);                 // misaligned base
    EXPECT_EQ(setMode(32ull << 20, 64, 48, 256), 2u);              // outside RAM
    EXPECT_EQ(setMode((32ull << 20) - 256 * 47, 64, 48, 256), 2u); // last row past RAM end
    EXPECT_EQ(setMode(~uint64_t(0) - 3, 64, 48, 256), 2u);         // wraps
    EXPECT_EQ(setMode(0x200000, 64, 48, uint64_t(1) << 62), 2u);   // huge stride
    EXPECT_EQ(setMode((32ull << 20) - 256 * 48, 64, 48, 256), 1u); // exactly fits
    auto latest = m.display().latest();
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->width, 64);
}

// The configured preferred size is what a disabled display shows and what PREF_WIDTH and
// PREF_HEIGHT read; the registers ignore writes; sizes the board cannot show are refused.
TEST(MachineFramebuffer, PreferredSizeFromTheConfiguration) {
    MachineConfig config = kernelConfig("echo");
    config.displayWidth = 1280;
    config.displayHeight = 800;
    Machine m(config);
    {
        auto blank = m.display().latest(); // holds one of the publisher's two buffers
        ASSERT_TRUE(blank);
        EXPECT_EQ(blank->width, 1280);
        EXPECT_EQ(blank->height, 800);
    }
    GuestMemory& mem = m.memory();
    EXPECT_EQ(mem.load(0xF0005040, 8), 1280u);
    EXPECT_EQ(mem.load(0xF0005048, 8), 800u);
    mem.store(0xF0005040, 8, 7);
    EXPECT_EQ(mem.load(0xF0005040, 8), 1280u);
    // Turning a mode off shows the preferred size again.
    mem.store(0xF0005000, 8, 0x200000);
    mem.store(0xF0005008, 8, 64);
    mem.store(0xF0005010, 8, 48);
    mem.store(0xF0005018, 8, 256);
    mem.store(0xF0005020, 8, 1);
    EXPECT_EQ(m.display().latest()->width, 64);
    mem.store(0xF0005020, 8, 0);
    EXPECT_EQ(m.display().latest()->width, 1280);
    EXPECT_EQ(m.display().latest()->height, 800);

    for (auto [w, h] :
         {std::pair<uint32_t, uint32_t>{0, 480}, {640, 0}, {1921, 480}, {640, 1081}}) {
        MachineConfig bad = kernelConfig("echo");
        bad.displayWidth = w;
        bad.displayHeight = h;
        EXPECT_THROW(Machine{bad}, std::runtime_error) << w << "x" << h;
    }
}

TEST(MachineFramebuffer, IdleGuestWithoutTimerStillGetsItsFrame) {
    RecordingRunner r(kernelConfig("fbidle"));
    r.runner->start();
    FramePublisher& display = r.runner->display();
    ASSERT_TRUE(eventually([&] {
        auto f = display.latest();
        return f && f->width == 16 && f->pixel(3, 4) == 0xFF0000u;
    }));
    EXPECT_EQ(display.latest()->pixel(2, 4), 0u);
}

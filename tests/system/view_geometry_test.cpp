// Where the guest picture goes in the window, and window positions -> guest pointer.
#include "app/e2kvm-system/ViewGeometry.h"

#include <gtest/gtest.h>

using namespace e2kvm::sys;

TEST(ViewGeometry, SameSizeFillsTheWindow) {
    EXPECT_EQ(fitFrame(1024, 768, 1024, 768, false), (ViewRect{0, 0, 1024, 768}));
    EXPECT_EQ(fitFrame(1024, 768, 1024, 768, true), (ViewRect{0, 0, 1024, 768}));
}

TEST(ViewGeometry, KeepsAspect) {
    // Wider window: pillarbox.
    EXPECT_EQ(fitFrame(1024, 768, 1920, 1080, false), (ViewRect{240, 0, 1440, 1080}));
    // Taller window: letterbox.
    EXPECT_EQ(fitFrame(1024, 768, 1024, 1000, false), (ViewRect{0, 116, 1024, 768}));
    // Shrinking keeps aspect too.
    EXPECT_EQ(fitFrame(1024, 768, 512, 600, false), (ViewRect{0, 108, 512, 384}));
}

TEST(ViewGeometry, IntegerScale) {
    EXPECT_EQ(fitFrame(640, 480, 1920, 1080, true), (ViewRect{320, 60, 1280, 960}));
    EXPECT_EQ(fitFrame(640, 480, 1279, 959, true), (ViewRect{319, 239, 640, 480}));
    // Too big for the window: shrunk to fit anyway (never cut off).
    EXPECT_EQ(fitFrame(1024, 768, 800, 600, true), (ViewRect{0, 0, 800, 600}));
}

TEST(ViewGeometry, DegenerateSizes) {
    EXPECT_EQ(fitFrame(0, 768, 800, 600, false), ViewRect{});
    EXPECT_EQ(fitFrame(1024, 768, 0, 0, false), ViewRect{});
    EXPECT_EQ(fitFrame(-5, 7, 800, 600, true), ViewRect{});
    // A very thin frame still gets at least one pixel.
    ViewRect thin = fitFrame(1920, 1, 10, 10, false);
    EXPECT_EQ(thin.w, 10);
    EXPECT_EQ(thin.h, 1);
}

TEST(ViewGeometry, PointerMapping) {
    ViewRect v{240, 0, 1440, 1080};
    GuestPointer p = outputToGuest(v, 240, 0);
    EXPECT_TRUE(p.inside);
    EXPECT_EQ(p.x, 0);
    EXPECT_EQ(p.y, 0);
    p = outputToGuest(v, 240 + 720, 540);
    EXPECT_EQ(p.x, 16384);
    EXPECT_EQ(p.y, 16384);
    p = outputToGuest(v, 240 + 1439.99, 1079.99);
    EXPECT_TRUE(p.inside);
    EXPECT_EQ(p.x, 32767);
    EXPECT_EQ(p.y, 32767);
    // Outside the picture: clamped to its edge and flagged.
    p = outputToGuest(v, 10, 2000);
    EXPECT_FALSE(p.inside);
    EXPECT_EQ(p.x, 0);
    EXPECT_EQ(p.y, 32767);
    p = outputToGuest(v, 1900, -5);
    EXPECT_FALSE(p.inside);
    EXPECT_EQ(p.x, 32767);
    EXPECT_EQ(p.y, 0);
    EXPECT_FALSE(outputToGuest(ViewRect{}, 1, 1).inside);
}

TEST(ViewGeometry, PointerIsMonotonic) {
    ViewRect v = fitFrame(1024, 768, 1366, 700, false);
    uint16_t last = 0;
    for (int x = v.x; x < v.x + v.w; ++x) {
        GuestPointer p = outputToGuest(v, x + 0.5, v.y + 1);
        EXPECT_GE(p.x, last);
        last = p.x;
    }
    EXPECT_GT(last, 32700);
}

// FramePublisher: frames are dropped, never queued (a slow listener gets the newest frame with
// the union of what it missed), resizes, several independent listeners, recycled buffers never
// change under a listener, and a randomized check that every take's dirty rectangle covers
// every pixel that changed since that listener's previous take.
#include "emu/display/FramePublisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

using namespace e2kvm::emu;

namespace {

struct Source {
    int w, h;
    std::vector<uint32_t> px;
    Source(int width, int height, uint32_t fill = 0)
        : w(width), h(height), px(size_t(width) * size_t(height), fill) {}
    void paint(const Rect& r, uint32_t v) {
        for (int y = r.y; y < r.y + r.h; ++y)
            for (int x = r.x; x < r.x + r.w; ++x)
                px[size_t(y) * size_t(w) + size_t(x)] = v;
    }
    void publish(FramePublisher& p, const Rect& dirty) const {
        p.publish(w, h, px.data(), size_t(w), std::span(&dirty, 1));
    }
};

} // namespace

TEST(FramePublisher, FirstPublishIsAFullResizedFrame) {
    FramePublisher p;
    int id = p.subscribe(nullptr);
    EXPECT_FALSE(p.take(id));
    EXPECT_EQ(p.latest(), nullptr);
    Source s(8, 4, 0x123456);
    s.publish(p, {1, 1, 1, 1}); // the first frame is complete whatever the dirty list says
    auto t = p.take(id);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->resized);
    EXPECT_EQ(t->dirty, (Rect{0, 0, 8, 4}));
    EXPECT_EQ(t->image->pixel(7, 3), 0x123456u);
    EXPECT_FALSE(p.take(id)); // nothing new
    EXPECT_EQ(p.published(), 1u);
}

TEST(FramePublisher, DropsInsteadOfQueueingAndUnitesDirtyRegions) {
    FramePublisher p;
    std::atomic<int> notified{0};
    int id = p.subscribe([&] { ++notified; });
    Source s(16, 16);
    s.publish(p, {0, 0, 16, 16});
    ASSERT_TRUE(p.take(id));
    notified = 0;
    s.paint({1, 2, 3, 1}, 1);
    s.publish(p, {1, 2, 3, 1});
    s.paint({10, 12, 2, 2}, 2);
    s.publish(p, {10, 12, 2, 2});
    s.paint({4, 4, 1, 1}, 3);
    s.publish(p, {4, 4, 1, 1});
    EXPECT_EQ(notified, 1); // one notification until the listener takes
    auto t = p.take(id);
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->resized);
    EXPECT_EQ(t->dirty, (Rect{1, 2, 11, 12})); // union of the three
    EXPECT_EQ(t->image->sequence, 4u);
    EXPECT_EQ(t->image->pixel(1, 2), 1u);
    EXPECT_EQ(t->image->pixel(11, 13), 2u);
    EXPECT_EQ(t->image->pixel(4, 4), 3u);
    EXPECT_FALSE(p.take(id)); // the older frames are gone, not queued
    s.publish(p, {0, 0, 1, 1});
    EXPECT_EQ(notified, 2);
}

TEST(FramePublisher, LateSubscriberIsNotified) {
    FramePublisher p;
    Source s(4, 4);
    s.publish(p, {0, 0, 4, 4}); // before anyone listens (the machine's blank screen)
    s.publish(p, {0, 0, 4, 4});
    int notified = 0;
    int id = p.subscribe([&] { ++notified; });
    auto t = p.take(id); // what is already there can be taken at once
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->resized);
    s.paint({1, 1, 1, 1}, 8);
    s.publish(p, {1, 1, 1, 1});
    EXPECT_EQ(notified, 1);
    // Subscribed but never took: still told about the next frame.
    int notified2 = 0;
    int id2 = p.subscribe([&] { ++notified2; });
    s.publish(p, {2, 2, 1, 1});
    EXPECT_EQ(notified2, 1);
    EXPECT_EQ(notified, 1); // the first listener has not taken since its notification
    ASSERT_TRUE(p.take(id2));
    ASSERT_TRUE(p.take(id));
}

TEST(FramePublisher, EmptyDirtyListPublishesNothing) {
    FramePublisher p;
    int id = p.subscribe(nullptr);
    Source s(4, 4);
    s.publish(p, {0, 0, 4, 4});
    ASSERT_TRUE(p.take(id));
    p.publish(4, 4, s.px.data(), 4, {});
    EXPECT_FALSE(p.take(id));
    EXPECT_EQ(p.published(), 1u);
    p.publish(0, 4, s.px.data(), 4, {}); // nonsense sizes are ignored
    p.publish(4, 4, nullptr, 4, {});
    EXPECT_EQ(p.published(), 1u);
}

TEST(FramePublisher, ResizeGivesAFullDirtyFrame) {
    FramePublisher p;
    int id = p.subscribe(nullptr);
    Source a(8, 8, 7);
    a.publish(p, {0, 0, 8, 8});
    ASSERT_TRUE(p.take(id));
    Source b(20, 3, 9);
    b.publish(p, {0, 0, 1, 1});
    auto t = p.take(id);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->resized);
    EXPECT_EQ(t->dirty, (Rect{0, 0, 20, 3}));
    EXPECT_EQ(t->image->width, 20);
    EXPECT_EQ(t->image->pixel(19, 2), 9u);
    // Back to the old size: still a resize for this listener.
    a.publish(p, {0, 0, 1, 1});
    t = p.take(id);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->resized);
    EXPECT_EQ(t->image->pixel(7, 7), 7u);
}

TEST(FramePublisher, SeveralListenersAreIndependent) {
    FramePublisher p;
    int a = p.subscribe(nullptr), b = p.subscribe(nullptr);
    Source s(10, 10);
    s.publish(p, {0, 0, 10, 10});
    ASSERT_TRUE(p.take(a));
    s.paint({2, 2, 1, 1}, 5);
    s.publish(p, {2, 2, 1, 1});
    auto ta = p.take(a);
    ASSERT_TRUE(ta);
    EXPECT_EQ(ta->dirty, (Rect{2, 2, 1, 1}));
    auto tb = p.take(b); // b never took anything: full first frame
    ASSERT_TRUE(tb);
    EXPECT_TRUE(tb->resized);
    EXPECT_EQ(tb->dirty, (Rect{0, 0, 10, 10}));
    EXPECT_EQ(tb->image, ta->image); // the same buffer is shared
    p.unsubscribe(a);
    EXPECT_FALSE(p.take(a));
    s.paint({9, 9, 1, 1}, 6);
    s.publish(p, {9, 9, 1, 1});
    tb = p.take(b);
    ASSERT_TRUE(tb);
    EXPECT_EQ(tb->dirty, (Rect{9, 9, 1, 1}));
}

TEST(FramePublisher, HeldFramesNeverChange) {
    FramePublisher p;
    int a = p.subscribe(nullptr), b = p.subscribe(nullptr);
    Source s(6, 6, 1);
    s.publish(p, {0, 0, 6, 6});
    auto held = p.take(a);
    ASSERT_TRUE(held);
    std::vector<uint32_t> copy = held->image->pixels;
    for (uint32_t v = 2; v < 40; ++v) {
        s.paint({int(v % 6), int(v % 5), 1, 1}, v);
        s.publish(p, {int(v % 6), int(v % 5), 1, 1});
        if (v % 3 == 0)
            (void)p.take(b); // b keeps a buffer busy now and then
    }
    EXPECT_EQ(held->image->pixels, copy);
    auto latest = p.take(a);
    ASSERT_TRUE(latest);
    EXPECT_EQ(latest->image->pixels, s.px);
}

TEST(FramePublisher, RandomizedDirtyRegionsCoverEveryChange) {
    std::mt19937 rng(12345);
    FramePublisher p;
    constexpr int kListeners = 3;
    int ids[kListeners];
    std::shared_ptr<const FrameImage> last[kListeners];
    std::vector<std::shared_ptr<const FrameImage>> held;
    for (int& id : ids)
        id = p.subscribe(nullptr);
    Source s(24, 16);
    std::map<uint64_t, std::vector<uint32_t>> snapshots;
    for (int step = 0; step < 2000; ++step) {
        int x = int(rng() % 24), y = int(rng() % 16);
        Rect r{x, y, 1 + int(rng() % uint32_t(24 - x)), 1 + int(rng() % uint32_t(16 - y))};
        s.paint(r, rng());
        uint64_t before = p.published();
        s.publish(p, r);
        if (p.published() != before) {
            snapshots[p.published()] = s.px;
            EXPECT_EQ(p.latest()->pixels, s.px) << "step " << step;
        }
        for (int l = 0; l < kListeners; ++l) {
            if (rng() % (l + 2))
                continue;
            auto t = p.take(ids[l]);
            if (!t)
                continue;
            ASSERT_TRUE(snapshots.count(t->image->sequence));
            EXPECT_EQ(t->image->pixels, snapshots[t->image->sequence]) << "step " << step;
            if (last[l] && !t->resized) {
                for (int py = 0; py < 16; ++py) {
                    for (int px = 0; px < 24; ++px) {
                        if (t->image->pixel(px, py) ==
                            last[l]->pixels[size_t(py) * 24 + size_t(px)])
                            continue;
                        ASSERT_TRUE(px >= t->dirty.x && px < t->dirty.x + t->dirty.w &&
                                    py >= t->dirty.y && py < t->dirty.y + t->dirty.h)
                            << "step " << step << " listener " << l << " pixel " << px << "," << py;
                    }
                }
            }
            // Keep a private copy: the listener's view must not depend on the buffer.
            last[l] = std::make_shared<FrameImage>(*t->image);
            if (rng() % 4 == 0)
                held.push_back(t->image); // some listeners hold frames for a while
        }
        if (held.size() > 4)
            held.erase(held.begin());
    }
}

TEST(FramePublisher, ConcurrentPublishAndTake) {
    FramePublisher p;
    int id = p.subscribe(nullptr);
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop) {
            if (auto t = p.take(id)) {
                // Every frame is uniform: a torn copy would mix two values.
                uint32_t v = t->image->pixels[0];
                for (uint32_t q : t->image->pixels)
                    ASSERT_EQ(q, v);
            }
        }
    });
    Source s(64, 64);
    for (uint32_t v = 1; v < 3000; ++v) {
        s.paint({0, 0, 64, 64}, v);
        s.publish(p, {0, 0, 64, 64});
    }
    stop = true;
    reader.join();
    EXPECT_EQ(p.latest()->pixels[0], 2999u);
}

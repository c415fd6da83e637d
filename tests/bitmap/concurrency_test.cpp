#include "ReferenceBitmaps.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

using namespace e2kvm::block;
using e2kvm::block::test::IntervalReference;

namespace {
constexpr uint64_t KiB = 1024, GiB = KiB * KiB * KiB;
}

// Several writers, each in its own slice of the disk, while a reader walks extents. The
// walk must always be well formed, the dirty count may only grow while nobody resets, and
// the end state must be the union of what the writers did.
TEST(DirtyBitmapConcurrency, WritersAndExtentReader) {
    const uint64_t size = 64 * GiB, gran = 64 * KiB;
    const int writers = 4;
    const uint64_t slice = size / writers;
    DirtyBitmap b(size, gran);
    std::atomic<int> running{writers};
    std::vector<IntervalReference> refs(writers, IntervalReference(size, gran));
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937_64 rng(1000 + w);
            for (int i = 0; i < 4000; ++i) {
                uint64_t off = w * slice + rng() % (slice - 4 * gran);
                // Keep to whole granules of this slice so slices never share a granule.
                off = off / gran * gran;
                uint64_t len = gran * (1 + rng() % 4);
                b.set(off, len);
                refs[w].assign(off, len, true);
            }
            running.fetch_sub(1);
        });
    }
    uint64_t lastDirty = 0;
    int walks = 0;
    bool ok = true;
    while (running.load() > 0 || walks < 3) {
        uint64_t dirtyNow = b.dirtyBytes();
        if (dirtyNow < lastDirty)
            ok = false;
        lastDirty = dirtyNow;
        uint64_t pos = 0;
        DirtyExtentWalker walker(b, 0, size);
        while (auto e = walker.next()) {
            if (e->offset != pos || e->length == 0)
                ok = false;
            pos += e->length;
        }
        if (pos != size)
            ok = false;
        ++walks;
    }
    for (auto& t : threads)
        t.join();
    EXPECT_TRUE(ok);
    uint64_t expected = 0;
    for (auto& r : refs)
        expected += r.dirtyBytes();
    EXPECT_EQ(b.dirtyBytes(), expected);
    for (int w = 0; w < writers; ++w) {
        std::mt19937_64 rng(5 + w);
        for (int q = 0; q < 200; ++q) {
            uint64_t off = w * slice + rng() % slice;
            ASSERT_EQ(b.test(off), refs[w].test(off));
            ASSERT_EQ(b.nextDirty(off, (w + 1) * slice), refs[w].next(off, (w + 1) * slice, true));
        }
    }
}

// Setters and resetters on overlapping ranges plus merges and serialization in parallel:
// no crash, and the running count always equals the bits.
TEST(DirtyBitmapConcurrency, MixedOperationsKeepCountConsistent) {
    const uint64_t size = 8 * GiB + 12345, gran = 4 * KiB;
    DirtyBitmap b(size, gran);
    DirtyBitmap other(size, 64 * KiB);
    other.set(GiB, 10 * 64 * KiB);
    std::vector<std::thread> threads;
    for (int w = 0; w < 3; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937_64 rng(w);
            for (int i = 0; i < 3000; ++i) {
                uint64_t off = rng() % size;
                uint64_t len = std::min(size - off, rng() % (1 << 22));
                if (rng() % 2)
                    b.set(off, len);
                else
                    b.reset(off, len);
                if (i % 500 == 0)
                    b.merge(other);
            }
        });
    }
    threads.emplace_back([&] {
        std::vector<uint8_t> buf(4096);
        for (int i = 0; i < 2000; ++i) {
            b.serialize(i % 64 * 4096, buf);
            (void)b.nextClean(i * 4096ull, size);
            (void)other.dirtyBytes();
        }
    });
    for (auto& t : threads)
        t.join();
    std::vector<uint8_t> all(b.serializedSize());
    b.serialize(0, all);
    uint64_t bits = 0;
    for (uint8_t x : all)
        bits += static_cast<uint64_t>(__builtin_popcount(x));
    EXPECT_EQ(b.dirtyGranules(), bits);
    DirtyBitmap fresh(size, gran);
    fresh.deserialize(0, all);
    EXPECT_EQ(fresh.dirtyBytes(), b.dirtyBytes());
}

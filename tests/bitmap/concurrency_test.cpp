#include "ReferenceBitmaps.h"
#include "block/BlockError.h"
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

// One extents() call is one consistent look: runs alternate and tile the range even while
// writers flip granules; a walker over a bitmap that shrinks under it ends or throws
// BlockError, never reads past the bits.
TEST(DirtyBitmapConcurrency, ExtentsStayWellFormedUnderWritersAndResize) {
    const uint64_t size = 4 * GiB, gran = 64 * KiB;
    DirtyBitmap b(size, gran);
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        std::mt19937_64 rng(42);
        while (!stop.load()) {
            uint64_t off = rng() % size;
            uint64_t len = std::min(size - off, rng() % (8 * gran));
            if (rng() % 2)
                b.set(off, len);
            else
                b.reset(off, len);
        }
    });
    bool ok = true;
    for (int i = 0; i < 300; ++i) {
        uint64_t off = (i * 7919ull * gran + 123) % size;
        auto ext = b.extents(off, size - off, 1000);
        uint64_t pos = off;
        for (size_t k = 0; k < ext.size(); ++k) {
            if (ext[k].offset != pos || ext[k].length == 0 ||
                (k > 0 && ext[k].dirty == ext[k - 1].dirty))
                ok = false;
            pos += ext[k].length;
        }
        if (ext.empty() || (ext.size() < 1000 && pos != size))
            ok = false;
    }
    stop = true;
    writer.join();
    EXPECT_TRUE(ok);

    // Shrink and grow the bitmap while walkers run.
    stop = false;
    std::thread resizer([&] {
        for (int i = 0; !stop.load(); ++i)
            b.resize(i % 2 ? size : size / 3);
    });
    int walks = 0, errors = 0;
    for (; walks < 200; ++walks) {
        try {
            uint64_t sz = b.diskSize();
            DirtyExtentWalker w(b, 0, sz);
            uint64_t pos = 0;
            while (auto e = w.next()) {
                if (e->offset != pos || e->length == 0)
                    ok = false;
                pos += e->length;
            }
            if (pos != sz)
                ok = false;
        } catch (const e2kvm::block::BlockError& e) {
            EXPECT_EQ(e.errnoValue(), EINVAL);
            ++errors;
        }
    }
    stop = true;
    resizer.join();
    EXPECT_TRUE(ok);
    EXPECT_LT(errors, walks);
}

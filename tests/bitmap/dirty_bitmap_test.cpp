#include "ReferenceBitmaps.h"
#include "block/BlockError.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>
#include <vector>

using namespace e2kvm::block;
using e2kvm::block::test::IntervalReference;
using e2kvm::block::test::VectorReference;

namespace {

constexpr uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

int errnoOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const BlockError& e) {
        return e.errnoValue();
    }
    return 0;
}

// A random range inside [0, size): mostly short, sometimes long, often touching the end.
std::pair<uint64_t, uint64_t> randomRange(std::mt19937_64& rng, uint64_t size, uint64_t gran) {
    uint64_t off = rng() % (size + 1);
    uint64_t maxLen = size - off;
    uint64_t len;
    switch (rng() % 6) {
    case 0:
        len = maxLen; // to the end
        break;
    case 1:
        len = std::min<uint64_t>(maxLen, 1 + rng() % 3);
        break;
    case 2:
        off = (off / gran) * gran; // granule aligned, whole granules
        maxLen = size - off;
        len = std::min(maxLen, gran * (1 + rng() % 200));
        break;
    case 3:
        len = maxLen ? rng() % (maxLen + 1) : 0;
        break;
    default:
        len = std::min(maxLen, rng() % (gran * 130));
        break;
    }
    return {off, len};
}

template <class Ref>
void checkQueriesAgree(const DirtyBitmap& b, const Ref& ref, std::mt19937_64& rng, uint64_t size,
                       uint64_t gran) {
    ASSERT_EQ(b.dirtyBytes(), ref.dirtyBytes());
    for (int q = 0; q < 20; ++q) {
        uint64_t off = rng() % (size + 1);
        uint64_t lim = off + rng() % (size - off + 1);
        if (q % 5 == 0)
            lim = size;
        if (q % 7 == 0)
            lim = UINT64_MAX; // clamped to the disk
        ASSERT_EQ(b.test(off), ref.test(off)) << "offset " << off;
        ASSERT_EQ(b.nextDirty(off, lim), ref.next(off, lim, true)) << off << ".." << lim;
        ASSERT_EQ(b.nextClean(off, lim), ref.next(off, lim, false)) << off << ".." << lim;
    }
    (void)gran;
}

} // namespace

TEST(DirtyBitmap, RejectsBadGeometry) {
    EXPECT_EQ(errnoOf([] { DirtyBitmap(MiB, 256); }), EINVAL);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(MiB, 3 * KiB); }), EINVAL);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(MiB, 4 * GiB); }), EINVAL);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(MiB, 0); }), EINVAL);
    EXPECT_EQ(errnoOf([] { DirtyBitmap((uint64_t{1} << 63) + 1, 2 * GiB); }), EINVAL);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(uint64_t{1} << 63, 512); }), EFBIG);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(MiB, 512); }), 0);
    EXPECT_EQ(errnoOf([] { DirtyBitmap(0, 512); }), 0);
}

TEST(DirtyBitmap, EmptyDisk) {
    DirtyBitmap b(0, 64 * KiB);
    EXPECT_EQ(b.granuleCount(), 0u);
    EXPECT_EQ(b.serializedSize(), 0u);
    EXPECT_FALSE(b.nextDirty(0, 100));
    EXPECT_FALSE(b.nextClean(0, 100));
    EXPECT_FALSE(b.test(0));
    b.set(0, 0);
    EXPECT_EQ(errnoOf([&] { b.set(0, 1); }), EINVAL);
    EXPECT_EQ(b.dirtyBytes(), 0u);
    EXPECT_TRUE(dirtyExtents(b, 0, 0).empty());
    b.resize(100 * KiB);
    b.set(99 * KiB, 1);
    EXPECT_EQ(b.dirtyBytes(), 36 * KiB);
}

TEST(DirtyBitmap, RangeErrorsAndOverflow) {
    DirtyBitmap b(10 * MiB + 5, 64 * KiB);
    EXPECT_EQ(errnoOf([&] { b.set(10 * MiB, 6); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { b.set(UINT64_MAX, 2); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { b.reset(1, UINT64_MAX); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { b.set(10 * MiB + 5, 0); }), 0);
    EXPECT_EQ(b.dirtyBytes(), 0u);
    std::vector<uint8_t> buf(b.serializedSize() + 1);
    EXPECT_EQ(errnoOf([&] { b.serialize(0, buf); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { b.deserialize(UINT64_MAX, std::span(buf).first(2)); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { b.serializedRangeIsZero(1, UINT64_MAX); }), EINVAL);
    EXPECT_EQ(errnoOf([&] { dirtyExtents(b, 5, UINT64_MAX); }), EINVAL);
}

// The two bitmaps of the VERIFIED qcow2 example in the spec notes: 4 MiB disk, dirty
// [0, 64K) and [2M, 4M) at 64 KiB; [512, 1024) and [2M, 4M) at 512 B.
TEST(DirtyBitmap, SerializedFormMatchesQemuExample) {
    DirtyBitmap b(4 * MiB, 64 * KiB);
    b.set(0, 1);
    b.set(2 * MiB, 2 * MiB);
    std::vector<uint8_t> out(b.serializedSize());
    ASSERT_EQ(out.size(), 8u);
    b.serialize(0, out);
    EXPECT_EQ(out, (std::vector<uint8_t>{0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}));

    DirtyBitmap b2(4 * MiB, 512);
    b2.set(600, 10);
    b2.set(2 * MiB, 2 * MiB);
    std::vector<uint8_t> out2(b2.serializedSize());
    ASSERT_EQ(out2.size(), 1024u);
    b2.serialize(0, out2);
    EXPECT_EQ(out2[0], 0x02);
    for (size_t i = 1; i < 512; ++i)
        ASSERT_EQ(out2[i], 0) << i;
    for (size_t i = 512; i < 1024; ++i)
        ASSERT_EQ(out2[i], 0xff) << i;
    EXPECT_TRUE(b2.serializedRangeIsZero(1, 511));
    EXPECT_FALSE(b2.serializedRangeIsZero(0, 1));
    EXPECT_FALSE(b2.serializedRangeIsZero(511, 2));
}

TEST(DirtyBitmap, LastPartialGranule) {
    const uint64_t size = 3 * 64 * KiB + 100;
    DirtyBitmap b(size, 64 * KiB);
    EXPECT_EQ(b.granuleCount(), 4u);
    b.set(size - 1, 1);
    EXPECT_EQ(b.dirtyBytes(), 100u);
    EXPECT_EQ(b.nextDirty(0, UINT64_MAX), 3 * 64 * KiB);
    EXPECT_EQ(b.nextClean(3 * 64 * KiB, UINT64_MAX), std::nullopt);
    EXPECT_EQ(b.nextDirty(size, UINT64_MAX), std::nullopt);
    EXPECT_FALSE(b.test(size));
    b.set(0, size);
    EXPECT_EQ(b.dirtyBytes(), size);
    EXPECT_EQ(b.nextClean(0, UINT64_MAX), std::nullopt);
    // Tail bits of a serialized stream are ignored on the way in and zero on the way out.
    b.clear();
    uint8_t in = 0xff;
    b.deserialize(0, std::span(&in, 1));
    EXPECT_EQ(b.dirtyBytes(), size);
    uint8_t out = 0;
    b.serialize(0, std::span(&out, 1));
    EXPECT_EQ(out, 0x0f);
}

// Deserializing over bits that are already set keeps the dirty count exact: what is
// overwritten is subtracted (words found through the summary), what is written is added.
TEST(DirtyBitmap, DeserializeOverSetBitsKeepsTheCount) {
    DirtyBitmap b(64 * MiB, 64 * KiB); // 1024 granules = 16 words
    b.set(0, 64 * MiB);
    ASSERT_EQ(b.dirtyGranules(), 1024u);
    std::vector<uint8_t> zeros(24, 0); // granules 64..255 (words 1..3) cleared
    b.deserialize(8, zeros);
    EXPECT_EQ(b.dirtyGranules(), 1024u - 192u);
    std::vector<uint8_t> pattern(16, 0x81); // 2 of every 8 granules in words 10..11
    b.reset(0, 64 * MiB);
    b.set(5 * 64 * KiB, 64 * KiB); // one granule in word 0 survives
    b.deserialize(80, pattern);
    EXPECT_EQ(b.dirtyGranules(), 1u + 32u);
    b.deserialize(80, pattern); // same again: nothing changes
    EXPECT_EQ(b.dirtyGranules(), 33u);
    EXPECT_EQ(b.dirtyBytes(), 33 * 64 * KiB);
}

TEST(DirtyBitmap, ExtremeGranularitiesAndSizes) {
    // 2 GiB granules on the largest disk: 2^32 granules, touched only at the ends.
    DirtyBitmap huge(uint64_t{1} << 63, 2 * GiB);
    EXPECT_EQ(huge.granuleCount(), uint64_t{1} << 32);
    huge.set((uint64_t{1} << 63) - 1, 1);
    EXPECT_EQ(huge.nextDirty(0, UINT64_MAX), (uint64_t{1} << 63) - 2 * GiB);
    EXPECT_EQ(huge.dirtyBytes(), 2 * GiB);
    huge.set(5, 1);
    EXPECT_EQ(huge.nextClean(0, UINT64_MAX), 2 * GiB);
    EXPECT_EQ(huge.dirtyGranules(), 2u);
    huge.clear();
    EXPECT_EQ(huge.nextDirty(0, UINT64_MAX), std::nullopt);

    // 512 B granules on a 1 TiB disk: 2^31 granules.
    DirtyBitmap fine(TiB, 512);
    fine.set(TiB - 512, 512);
    fine.set(0, 1);
    EXPECT_EQ(fine.nextDirty(1, UINT64_MAX), 1u);
    EXPECT_EQ(fine.nextDirty(512, UINT64_MAX), TiB - 512);
    EXPECT_EQ(fine.nextClean(TiB - 512, UINT64_MAX), std::nullopt);
    EXPECT_EQ(fine.nextClean(0, UINT64_MAX), 512u);
    EXPECT_EQ(fine.dirtyBytes(), 1024u);
    auto ext = dirtyExtents(fine, 0, TiB);
    ASSERT_EQ(ext.size(), 3u);
    EXPECT_EQ(ext[0], (DirtyExtent{0, 512, true}));
    EXPECT_EQ(ext[1], (DirtyExtent{512, TiB - 1024, false}));
    EXPECT_EQ(ext[2], (DirtyExtent{TiB - 512, 512, true}));
    // One bit per granule plus a few percent of summaries.
    EXPECT_LT(fine.memoryBytes(), TiB / 512 / 8 * 110 / 100);
}

// The main model check: random operations against one bool per granule.
TEST(DirtyBitmap, RandomOperationsMatchVectorReference) {
    struct Case {
        uint64_t size, gran;
    };
    const Case cases[] = {
        {1, 512},
        {511, 512},
        {513, 512},
        {64 * 512, 512},
        {64 * 512 + 1, 512},
        {4097 * 512 - 3, 512},
        {MiB, 4 * KiB},
        {5 * MiB + 7, 64 * KiB},
        {300 * KiB, 2 * GiB},
        {5 * GiB + 1, 2 * GiB},
        {TiB, 64 * MiB},
        {TiB + 1, 256 * MiB},
        {65537 * 4096ull - 1, 4096},
    };
    std::mt19937_64 rng(12345);
    for (const auto& c : cases) {
        SCOPED_TRACE("size " + std::to_string(c.size) + " gran " + std::to_string(c.gran));
        DirtyBitmap b(c.size, c.gran);
        VectorReference ref(c.size, c.gran);
        for (int step = 0; step < 300; ++step) {
            auto [off, len] = randomRange(rng, c.size, c.gran);
            bool value = rng() % 3 != 0;
            if (value)
                b.set(off, len);
            else
                b.reset(off, len);
            ref.assign(off, len, value);
            if (step % 10 == 0)
                checkQueriesAgree(b, ref, rng, c.size, c.gran);
            if (step % 50 == 0) {
                std::vector<uint8_t> out(b.serializedSize());
                b.serialize(0, out);
                ASSERT_EQ(out, ref.serialize());
            }
            if (HasFatalFailure())
                return;
        }
        checkQueriesAgree(b, ref, rng, c.size, c.gran);
        // Serialized pieces, and a round trip through a fresh bitmap in odd-sized pieces.
        auto full = ref.serialize();
        DirtyBitmap copy(c.size, c.gran);
        for (uint64_t pos = 0; pos < full.size();) {
            uint64_t n = std::min<uint64_t>(full.size() - pos, 1 + rng() % 777);
            std::vector<uint8_t> piece(n);
            b.serialize(pos, piece);
            ASSERT_TRUE(std::equal(piece.begin(), piece.end(), full.begin() + pos));
            bool zero = std::all_of(piece.begin(), piece.end(), [](uint8_t x) { return !x; });
            ASSERT_EQ(b.serializedRangeIsZero(pos, n), zero);
            copy.deserialize(pos, piece);
            pos += n;
        }
        EXPECT_EQ(copy.dirtyBytes(), b.dirtyBytes());
        checkQueriesAgree(copy, ref, rng, c.size, c.gran);
        // The extents of random windows: contiguous, alternating, exact.
        for (int q = 0; q < 10; ++q) {
            uint64_t off = rng() % (c.size + 1);
            uint64_t len = rng() % (c.size - off + 1);
            auto ext = dirtyExtents(b, off, len);
            uint64_t pos = off;
            for (size_t i = 0; i < ext.size(); ++i) {
                ASSERT_EQ(ext[i].offset, pos);
                ASSERT_GT(ext[i].length, 0u);
                if (i > 0) {
                    ASSERT_NE(ext[i].dirty, ext[i - 1].dirty);
                }
                ASSERT_EQ(ext[i].dirty, ref.test(pos));
                auto change = ref.next(pos, off + len, !ext[i].dirty);
                ASSERT_EQ(pos + ext[i].length, change.value_or(off + len));
                pos += ext[i].length;
            }
            ASSERT_EQ(pos, off + len);
            auto limited = dirtyExtents(b, off, len, 2);
            ASSERT_LE(limited.size(), 2u);
            for (size_t i = 0; i < limited.size(); ++i)
                ASSERT_EQ(limited[i], ext[i]);
        }
    }
}

// Terabyte disks at fine granularity, checked against a set of intervals.
TEST(DirtyBitmap, RandomOperationsOnTerabyteDisks) {
    const uint64_t sizes[] = {TiB, TiB + 333, 4 * TiB - 512};
    const uint64_t grans[] = {512, 4 * KiB, 64 * KiB, 2 * GiB};
    std::mt19937_64 rng(99);
    for (uint64_t size : sizes) {
        for (uint64_t gran : grans) {
            SCOPED_TRACE("size " + std::to_string(size) + " gran " + std::to_string(gran));
            DirtyBitmap b(size, gran);
            IntervalReference ref(size, gran);
            for (int step = 0; step < 400; ++step) {
                uint64_t off = rng() % size;
                if (step % 9 == 0)
                    off = size - 1 - rng() % (3 * gran);
                off = std::min(off, size);
                // Lengths up to 64 MiB keep the fine cases cheap.
                uint64_t len = std::min(size - off, rng() % (64 * MiB));
                bool value = rng() % 4 != 0;
                if (value)
                    b.set(off, len);
                else
                    b.reset(off, len);
                ref.assign(off, len, value);
                if (step % 20 == 0)
                    checkQueriesAgree(b, ref, rng, size, gran);
                if (HasFatalFailure())
                    return;
            }
            // Walking all extents visits exactly the reference's runs.
            uint64_t dirty = 0;
            DirtyExtentWalker walker(b, 0, size);
            while (auto e = walker.next()) {
                ASSERT_EQ(e->dirty, ref.test(e->offset));
                if (e->dirty)
                    dirty += e->length;
            }
            EXPECT_EQ(dirty, ref.dirtyBytes());
        }
    }
}

TEST(DirtyBitmap, MergeAcrossGranularities) {
    const uint64_t size = 10 * MiB + 4097;
    const uint64_t grans[] = {512, 4 * KiB, 64 * KiB, 2 * GiB};
    std::mt19937_64 rng(7);
    for (uint64_t gs : grans) {
        for (uint64_t gd : grans) {
            SCOPED_TRACE(std::to_string(gs) + " into " + std::to_string(gd));
            DirtyBitmap src(size, gs), dst(size, gd);
            VectorReference refSrc(size, gs), refDst(size, gd);
            for (int i = 0; i < 30; ++i) {
                auto [o1, l1] = randomRange(rng, size, gs);
                l1 = std::min<uint64_t>(l1, MiB);
                src.set(o1, l1);
                refSrc.assign(o1, l1, true);
                auto [o2, l2] = randomRange(rng, size, gd);
                l2 = std::min<uint64_t>(l2, MiB);
                dst.set(o2, l2);
                refDst.assign(o2, l2, true);
            }
            dst.merge(src);
            // Every dirty source granule marks every destination granule it overlaps.
            for (uint64_t g = 0; g < refSrc.granules(); ++g)
                if (refSrc.granule(g))
                    refDst.assign(g * gs, std::min(gs, size - g * gs), true);
            checkQueriesAgree(dst, refDst, rng, size, gd);
            std::vector<uint8_t> out(dst.serializedSize());
            dst.serialize(0, out);
            EXPECT_EQ(out, refDst.serialize());
        }
    }
    DirtyBitmap a(MiB, 512), other(2 * MiB, 512);
    EXPECT_EQ(errnoOf([&] { a.merge(other); }), EINVAL);
    a.set(0, 512);
    a.merge(a);
    EXPECT_EQ(a.dirtyBytes(), 512u);
}

TEST(DirtyBitmap, ResizeKeepsPrefixAndCleansNewGranules) {
    DirtyBitmap b(10 * MiB, 64 * KiB);
    b.set(0, 10 * MiB);
    b.resize(10 * MiB + 100);
    EXPECT_EQ(b.dirtyBytes(), 10 * MiB);
    EXPECT_FALSE(b.test(10 * MiB));
    b.resize(3 * MiB + 1);
    EXPECT_EQ(b.dirtyBytes(), 3 * MiB + 1);
    b.resize(20 * MiB);
    EXPECT_EQ(b.dirtyBytes(), 3 * MiB + 64 * KiB); // the partial granule stays dirty
    EXPECT_EQ(b.nextClean(0, UINT64_MAX), 3 * MiB + 64 * KiB);
    b.growTo(5 * MiB);
    EXPECT_EQ(b.diskSize(), 20 * MiB);
    b.growTo(30 * MiB);
    EXPECT_EQ(b.diskSize(), 30 * MiB);
    b.resize(0);
    EXPECT_EQ(b.dirtyBytes(), 0u);
    EXPECT_EQ(errnoOf([&] { b.resize(uint64_t{1} << 63 | 1); }), EINVAL);
    EXPECT_EQ(b.diskSize(), 0u);
}

TEST(DirtyBitmap, CopyAndAssignAreDeep) {
    DirtyBitmap a(100 * MiB, 4 * KiB);
    a.set(5 * MiB, 3);
    DirtyBitmap b(a);
    DirtyBitmap c(1, 512);
    c = a;
    a.reset(0, 100 * MiB);
    EXPECT_EQ(b.dirtyBytes(), 4 * KiB);
    EXPECT_EQ(c.dirtyBytes(), 4 * KiB);
    EXPECT_EQ(c.granularity(), 4 * KiB);
    EXPECT_EQ(c.nextDirty(0, UINT64_MAX), 5 * MiB);
    EXPECT_EQ(a.dirtyBytes(), 0u);
    DirtyBitmap& alias = c;
    c = alias; // self-assignment keeps the contents
    EXPECT_EQ(c.dirtyBytes(), 4 * KiB);
}

TEST(DirtyBitmap, ClearAndFullWalks) {
    DirtyBitmap b(TiB, 64 * KiB);
    std::mt19937_64 rng(3);
    std::set<uint64_t> granules;
    for (int i = 0; i < 1000; ++i) {
        uint64_t off = rng() % TiB;
        b.set(off, 1);
        granules.insert(off / (64 * KiB));
    }
    EXPECT_EQ(b.dirtyBytes(), granules.size() * 64 * KiB);
    uint64_t dirtyRuns = 0;
    for (auto& e : dirtyExtents(b, 0, TiB))
        dirtyRuns += e.dirty;
    uint64_t expectedRuns = 0;
    for (uint64_t g : granules)
        expectedRuns += !granules.count(g - 1);
    EXPECT_EQ(dirtyRuns, expectedRuns);
    b.set(0, TiB);
    EXPECT_EQ(b.dirtyBytes(), TiB);
    EXPECT_EQ(b.nextClean(0, UINT64_MAX), std::nullopt);
    EXPECT_EQ(dirtyExtents(b, 0, TiB), (std::vector<DirtyExtent>{{0, TiB, true}}));
    b.reset(TiB / 2, 1);
    EXPECT_EQ(b.nextClean(0, UINT64_MAX), TiB / 2);
    b.clear();
    EXPECT_EQ(b.dirtyBytes(), 0u);
    EXPECT_EQ(b.nextDirty(0, UINT64_MAX), std::nullopt);
    EXPECT_EQ(dirtyExtents(b, 0, TiB), (std::vector<DirtyExtent>{{0, TiB, false}}));
}

// bitmap_bench: DirtyBitmap on a 1 TiB disk at 64 KiB granularity with 100 000 random dirty
// ranges: time to mark them, to walk all dirty extents, to serialize and deserialize the
// qcow2 form, and the memory used. Also the cost of walking a huge, nearly clean bitmap.
// Each figure is the best of several repetitions (the machine is shared).
//   bitmap_bench [--smoke]   (--smoke: 1 GiB disk, 1000 ranges, one repetition, checks only)
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace e2kvm::block;
using Clock = std::chrono::steady_clock;

namespace {

int reps = 5;

// Best wall time of `reps` runs of f, in milliseconds.
double bestMs(const std::function<void()>& f) {
    double best = 1e300;
    for (int i = 0; i < reps; ++i) {
        auto t0 = Clock::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return best;
}

// Resident set size in bytes, from /proc/self/statm.
uint64_t rssBytes() {
    std::ifstream f("/proc/self/statm");
    uint64_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * 4096;
}

bool ok = true;
void check(bool cond, const char* what) {
    if (!cond) {
        std::fprintf(stderr, "bitmap_bench: check failed: %s\n", what);
        ok = false;
    }
}

} // namespace

int main(int argc, char** argv) {
    bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    if (smoke)
        reps = 1;
    const uint64_t disk = smoke ? (uint64_t{1} << 30) : (uint64_t{1} << 40);
    const uint64_t gran = 64 * 1024;
    const int ranges = smoke ? 1000 : 100000;
    std::mt19937_64 rng(2026);
    std::vector<std::pair<uint64_t, uint64_t>> ops;
    for (int i = 0; i < ranges; ++i) {
        uint64_t off = rng() % disk;
        uint64_t len = std::min(disk - off, uint64_t{4096} << (rng() % 9)); // 4 KiB .. 1 MiB
        ops.emplace_back(off, len);
    }

    uint64_t rss0 = rssBytes();
    DirtyBitmap b(disk, gran);
    for (auto& [off, len] : ops)
        b.set(off, len);
    uint64_t rss1 = rssBytes();

    double tCreate = bestMs([&] { DirtyBitmap fresh(disk, gran); });
    double tSet = bestMs([&] {
        DirtyBitmap fresh(disk, gran);
        for (auto& [off, len] : ops)
            fresh.set(off, len);
    });
    double tSetMapped = bestMs([&] { // into a bitmap whose pages are already mapped
        for (auto& [off, len] : ops)
            b.set(off, len);
    });

    uint64_t extents = 0, dirtyExtentCount = 0, dirty = 0;
    double tWalk = bestMs([&] {
        extents = dirtyExtentCount = dirty = 0;
        DirtyExtentWalker walker(b, 0, disk);
        while (auto e = walker.next()) {
            ++extents;
            if (e->dirty) {
                ++dirtyExtentCount;
                dirty += e->length;
            }
        }
    });
    check(dirty == b.dirtyBytes(), "walked dirty bytes == dirtyBytes()");

    // NBD-style: block status replies of at most 131072 extents each.
    uint64_t replies = 0;
    double tNbd = bestMs([&] {
        replies = 0;
        for (uint64_t pos = 0; pos < disk;) {
            auto r = b.extents(pos, disk - pos, 131072);
            pos = r.back().offset + r.back().length;
            ++replies;
        }
    });

    // Only the dirty runs, the way a backup tool asks: next dirty, then where it ends.
    uint64_t dirty2 = 0;
    double tDirtyOnly = bestMs([&] {
        dirty2 = 0;
        for (uint64_t pos = 0;;) {
            auto d = b.nextDirty(pos, disk);
            if (!d)
                break;
            uint64_t end = b.nextClean(*d, disk).value_or(disk);
            dirty2 += end - *d;
            pos = end;
        }
    });
    check(dirty2 == dirty, "nextDirty/nextClean walk == extent walk");

    std::vector<uint8_t> stream(b.serializedSize());
    double tSer = bestMs([&] { b.serialize(0, stream); });
    double tDeserFresh = bestMs([&] {
        DirtyBitmap fresh(disk, gran);
        fresh.deserialize(0, stream);
    });
    DirtyBitmap back(disk, gran);
    double tDeser = bestMs([&] { back.deserialize(0, stream); });
    check(back.dirtyBytes() == b.dirtyBytes(), "deserialized bitmap == original");

    // Per qcow2 cluster (64 KiB), as a qcow2 writer stores it: all-zero clusters are skipped.
    uint64_t zeroClusters = 0;
    double tZeroScan = bestMs([&] {
        zeroClusters = 0;
        for (uint64_t off = 0; off < stream.size(); off += 65536)
            zeroClusters +=
                b.serializedRangeIsZero(off, std::min<uint64_t>(65536, stream.size() - off));
    });

    double tCopy = bestMs([&] { DirtyBitmap copy(b); });
    DirtyBitmap target(disk, gran);
    double tMerge = bestMs([&] { target.merge(back); });
    check(target.dirtyBytes() == b.dirtyBytes(), "merge into empty == original");
    DirtyBitmap coarse(disk, 1 << 20);
    double tMergeCoarse = bestMs([&] { coarse.merge(back); });

    // A nearly clean bitmap: 10 dirty granules on 1 TiB at 512 B (2^31 granules).
    DirtyBitmap sparse(disk, 512);
    for (int i = 0; i < 10; ++i)
        sparse.set(rng() % disk, 1);
    uint64_t sparseExtents = 0;
    double tSparse = bestMs([&] {
        sparseExtents = 0;
        DirtyExtentWalker sw(sparse, 0, disk);
        while (sw.next())
            ++sparseExtents;
    });

    std::printf("DirtyBitmap benchmark: disk %llu GiB, granularity %llu KiB, %d random ranges "
                "of 4 KiB..1 MiB, best of %d%s\n",
                (unsigned long long)(disk >> 30), (unsigned long long)(gran >> 10), ranges, reps,
                smoke ? " (smoke run)" : "");
    std::printf("  dirty: %llu bytes in %llu dirty extents (%llu extents in all)\n",
                (unsigned long long)dirty, (unsigned long long)dirtyExtentCount,
                (unsigned long long)extents);
    std::printf("  memory: %llu bytes held (bits alone %llu, +%.2f%% for summaries), RSS +%llu "
                "KiB after marking\n",
                (unsigned long long)b.memoryBytes(), (unsigned long long)(disk / gran / 8),
                100.0 * (double(b.memoryBytes()) / double(disk / gran / 8) - 1.0),
                (unsigned long long)((rss1 > rss0 ? rss1 - rss0 : 0) >> 10));
    std::printf("  create %.3f ms; mark %d ranges: %.2f ms into a fresh bitmap, %.2f ms into a "
                "mapped one (%.0f ns each)\n",
                tCreate, ranges, tSet, tSetMapped, tSetMapped * 1e6 / ranges);
    std::printf("  walk all extents %.2f ms (%.0f ns per extent); as NBD replies of <= 131072 "
                "extents %.2f ms (%llu replies); dirty runs only %.2f ms\n",
                tWalk, tWalk * 1e6 / double(extents), tNbd, (unsigned long long)replies,
                tDirtyOnly);
    std::printf("  serialize %llu bytes %.3f ms; deserialize %.3f ms into a fresh bitmap, %.3f ms "
                "into a mapped one; zero-cluster scan %.3f ms (%llu of %llu clusters zero)\n",
                (unsigned long long)stream.size(), tSer, tDeserFresh, tDeser, tZeroScan,
                (unsigned long long)zeroClusters,
                (unsigned long long)((stream.size() + 65535) / 65536));
    std::printf("  copy %.3f ms; merge %.2f ms (same granularity), %.2f ms (into 1 MiB "
                "granularity)\n",
                tCopy, tMerge, tMergeCoarse);
    std::printf("  nearly clean 1 TiB bitmap at 512 B (2^31 granules, 10 dirty): full walk "
                "%.2f us, %llu extents\n",
                tSparse * 1000.0, (unsigned long long)sparseExtents);
    return ok ? 0 : 1;
}

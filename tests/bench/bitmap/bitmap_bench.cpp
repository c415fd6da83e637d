// bitmap_bench: DirtyBitmap on a 1 TiB disk at 64 KiB granularity with 100 000 random dirty
// ranges: time to mark them, to walk all dirty extents, to serialize and deserialize the
// qcow2 form, and the memory used. Also the cost of walking a huge, nearly clean bitmap.
//   bitmap_bench [--smoke]   (--smoke: 1 GiB disk, 1000 ranges, checks only)
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace e2kvm::block;
using Clock = std::chrono::steady_clock;

namespace {

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Resident set size in bytes, from /proc/self/statm.
uint64_t rssBytes() {
    std::ifstream f("/proc/self/statm");
    uint64_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * 4096;
}

int fail(const char* what) {
    std::fprintf(stderr, "bitmap_bench: check failed: %s\n", what);
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    bool smoke = argc > 1 && std::strcmp(argv[1], "--smoke") == 0;
    const uint64_t disk = smoke ? (uint64_t{1} << 30) : (uint64_t{1} << 40);
    const uint64_t gran = 64 * 1024;
    const int ranges = smoke ? 1000 : 100000;
    std::mt19937_64 rng(2026);

    uint64_t rss0 = rssBytes();
    auto t0 = Clock::now();
    DirtyBitmap b(disk, gran);
    double tCreate = msSince(t0);

    std::vector<std::pair<uint64_t, uint64_t>> ops;
    for (int i = 0; i < ranges; ++i) {
        uint64_t off = rng() % disk;
        uint64_t len = std::min(disk - off, uint64_t{4096} << (rng() % 9)); // 4 KiB .. 1 MiB
        ops.emplace_back(off, len);
    }
    t0 = Clock::now();
    for (auto& [off, len] : ops)
        b.set(off, len);
    double tSet = msSince(t0);
    uint64_t rss1 = rssBytes();

    t0 = Clock::now();
    uint64_t extents = 0, dirtyExtentCount = 0, dirty = 0;
    DirtyExtentWalker walker(b, 0, disk);
    while (auto e = walker.next()) {
        ++extents;
        if (e->dirty) {
            ++dirtyExtentCount;
            dirty += e->length;
        }
    }
    double tWalk = msSince(t0);
    if (dirty != b.dirtyBytes())
        return fail("walked dirty bytes != dirtyBytes()");

    // Only the dirty runs, the way a backup tool asks: next dirty, then where it ends.
    t0 = Clock::now();
    uint64_t dirty2 = 0;
    for (uint64_t pos = 0;;) {
        auto d = b.nextDirty(pos, disk);
        if (!d)
            break;
        uint64_t end = b.nextClean(*d, disk).value_or(disk);
        dirty2 += end - *d;
        pos = end;
    }
    double tDirtyOnly = msSince(t0);
    if (dirty2 != dirty)
        return fail("nextDirty/nextClean walk disagrees");

    std::vector<uint8_t> stream(b.serializedSize());
    t0 = Clock::now();
    b.serialize(0, stream);
    double tSer = msSince(t0);
    DirtyBitmap back(disk, gran);
    t0 = Clock::now();
    back.deserialize(0, stream);
    double tDeser = msSince(t0);
    t0 = Clock::now();
    back.deserialize(0, stream); // again, into memory that is already mapped
    double tDeser2 = msSince(t0);
    if (back.dirtyBytes() != b.dirtyBytes())
        return fail("deserialized bitmap differs");

    // Per qcow2 cluster (64 KiB), the way a qcow2 writer stores it: skip all-zero clusters.
    t0 = Clock::now();
    uint64_t zeroClusters = 0;
    for (uint64_t off = 0; off < stream.size(); off += 65536)
        zeroClusters +=
            b.serializedRangeIsZero(off, std::min<uint64_t>(65536, stream.size() - off));
    double tZeroScan = msSince(t0);

    t0 = Clock::now();
    DirtyBitmap copy(b);
    double tCopy = msSince(t0);
    t0 = Clock::now();
    copy.merge(back);
    double tMerge = msSince(t0);

    // A nearly clean bitmap: 10 dirty granules on 1 TiB at 512 B (2^31 granules).
    DirtyBitmap sparse(disk, 512);
    for (int i = 0; i < 10; ++i)
        sparse.set(rng() % disk, 1);
    t0 = Clock::now();
    const int walks = smoke ? 10 : 1000;
    uint64_t sparseExtents = 0;
    for (int w = 0; w < walks; ++w) {
        DirtyExtentWalker sw(sparse, 0, disk);
        while (sw.next())
            ++sparseExtents;
    }
    double tSparse = msSince(t0) / walks;

    std::printf("DirtyBitmap benchmark: disk %llu GiB, granularity %llu KiB, %d random ranges "
                "of 4 KiB..1 MiB%s\n",
                (unsigned long long)(disk >> 30), (unsigned long long)(gran >> 10), ranges,
                smoke ? " (smoke run)" : "");
    std::printf("  dirty: %llu bytes in %llu dirty extents (%llu extents in all)\n",
                (unsigned long long)dirty, (unsigned long long)dirtyExtentCount,
                (unsigned long long)extents);
    std::printf("  memory: %llu bytes held (bits %llu = one per granule, +%.2f%%), RSS +%llu "
                "KiB after marking\n",
                (unsigned long long)b.memoryBytes(), (unsigned long long)(disk / gran / 8),
                100.0 * (double(b.memoryBytes()) / double(disk / gran / 8) - 1.0),
                (unsigned long long)((rss1 > rss0 ? rss1 - rss0 : 0) >> 10));
    std::printf("  create %.3f ms, mark %d ranges %.2f ms (%.0f ns each)\n", tCreate, ranges, tSet,
                tSet * 1e6 / ranges);
    std::printf("  walk all extents %.2f ms (%.0f ns per extent); dirty runs only %.2f ms\n", tWalk,
                tWalk * 1e6 / double(extents), tDirtyOnly);
    std::printf("  serialize %llu bytes %.3f ms, deserialize %.3f ms into a fresh bitmap "
                "(first touch of its pages) / %.3f ms into a mapped one, zero-cluster scan "
                "%.3f ms (%llu of %llu clusters zero)\n",
                (unsigned long long)stream.size(), tSer, tDeser, tDeser2, tZeroScan,
                (unsigned long long)zeroClusters,
                (unsigned long long)((stream.size() + 65535) / 65536));
    std::printf("  copy %.3f ms, merge (same granularity) %.2f ms\n", tCopy, tMerge);
    std::printf("  nearly clean 1 TiB bitmap at 512 B (2^31 granules, 10 dirty): full walk "
                "%.2f us, %llu extents\n",
                tSparse * 1000.0, (unsigned long long)(sparseExtents / walks));
    return 0;
}

// Unit tests (no peers) of the qcow2 behaviours that follow QEMU 7.2 for identical images:
// zero writes with unaligned edges, v2 zero writes, preallocated layouts, cluster allocation
// with new refcount blocks. The interop script qcow2_fidelity_interop.py compares the same
// behaviours with qemu-io/qemu-img byte for byte.
#include "../qcow2/TestSupport.h"

#include "block/ImageCheck.h"
#include "block/ImageOpen.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace e2kvm::block::test {
namespace {

constexpr uint64_t kCluster = 65536;

void expectClean(const std::string& img) {
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 0u) << img;
    EXPECT_EQ(r.leaks, 0u) << img;
    EXPECT_EQ(r.checkErrors, 0u) << img;
}

std::vector<uint8_t> readRange(BlockDriver& d, uint64_t offset, size_t n) {
    std::vector<uint8_t> buf(n);
    d.read(offset, buf);
    return buf;
}

TEST(Qcow2Fidelity, UnalignedZeroEdgeOverNothingBecomesZeroCluster) {
    TempDir t;
    std::string img = t.path("z.qcow2");
    createQcow2(img, 4 << 20);
    auto d = openRw(img);
    d->writeZeroes(1000, 3000);
    LayerExtent e = d->layerStatus(0, 4 << 20);
    EXPECT_EQ(e.kind, Allocation::Zero);
    EXPECT_EQ(e.length, kCluster);
    EXPECT_EQ(d->layerStatus(kCluster, 1).kind, Allocation::Unallocated);
    // Both edges of a request that spans clusters; the middle one is zero anyway.
    d->writeZeroes(3 * kCluster - 512, kCluster + 1024, ZeroMayUnmap);
    for (uint64_t c : {2u, 3u, 4u})
        EXPECT_EQ(d->layerStatus(c * kCluster, 1).kind, Allocation::Zero) << "cluster " << c;
    EXPECT_EQ(d->layerStatus(5 * kCluster, 1).kind, Allocation::Unallocated);
    EXPECT_EQ(readRange(*d, 0, 6 * kCluster), std::vector<uint8_t>(6 * kCluster, 0));
    d.reset();
    expectClean(img);
}

TEST(Qcow2Fidelity, UnalignedZeroEdgeOverDataWritesExplicitZeros) {
    TempDir t;
    std::string img = t.path("d.qcow2");
    createQcow2(img, 4 << 20);
    auto d = openRw(img);
    std::vector<uint8_t> data = pattern(kCluster, 3);
    d->write(0, data);
    d->writeZeroes(1000, 3000, ZeroMayUnmap);
    EXPECT_EQ(d->layerStatus(0, 1).kind, Allocation::Data);
    std::fill(data.begin() + 1000, data.begin() + 4000, 0);
    EXPECT_EQ(readRange(*d, 0, kCluster), data);
    // A fast zero cannot fall back to writing zeros.
    EXPECT_THROW(d->writeZeroes(100, 200, ZeroNoFallback), BlockError);
}

TEST(Qcow2Fidelity, UnalignedZeroEdgeLooksThroughTheBackingFile) {
    TempDir t;
    std::string base = t.path("base.qcow2"), top = t.path("top.qcow2");
    createQcow2(base, 4 << 20);
    {
        auto b = openRw(base);
        b->write(kCluster + 512, pattern(512, 9)); // cluster 1 has data below
        b->flush();
    }
    createQcow2(top, 4 << 20, kCluster, base, "qcow2");
    auto d = openRw(top);
    d->writeZeroes(100, 200);              // cluster 0: rest reads as zero
    d->writeZeroes(kCluster + 2048, 1000); // cluster 1: the backing data must stay
    EXPECT_EQ(d->layerStatus(0, 1).kind, Allocation::Zero);
    EXPECT_EQ(d->layerStatus(kCluster, 1).kind, Allocation::Data);
    EXPECT_EQ(readRange(*d, kCluster + 512, 512), pattern(512, 9));
    EXPECT_EQ(readRange(*d, kCluster + 2048, 1000), std::vector<uint8_t>(1000, 0));
}

TEST(Qcow2Fidelity, V2ZeroWritesWithoutBackingDiscard) {
    TempDir t;
    std::string img = t.path("v2.qcow2");
    CreateOptions o;
    o.format = "qcow2";
    o.size = 4 << 20;
    o.sizeGiven = true;
    o.compat = "0.10";
    createImage(img, o);
    auto d = openRw(img);
    d->write(kCluster, pattern(2 * kCluster, 5));
    d->writeZeroes(kCluster, kCluster);
    EXPECT_EQ(d->layerStatus(kCluster, 1).kind, Allocation::Unallocated);
    d->writeZeroes(2 * kCluster + 10, 100); // an edge over data: explicit zeros
    EXPECT_EQ(d->layerStatus(2 * kCluster, 1).kind, Allocation::Data);
    EXPECT_EQ(readRange(*d, kCluster, kCluster), std::vector<uint8_t>(kCluster, 0));
    std::vector<uint8_t> expected = pattern(2 * kCluster, 5);
    expected.resize(kCluster + 110);
    expected.erase(expected.begin(), expected.begin() + long(kCluster));
    std::fill(expected.begin() + 10, expected.end(), 0);
    EXPECT_EQ(readRange(*d, 2 * kCluster, 110), expected);
    try {
        d->writeZeroes(0, kCluster, ZeroNoFallback);
        ADD_FAILURE() << "a fast zero on a v2 image succeeded";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOTSUP);
    }
}

TEST(Qcow2Fidelity, FallocPreallocationPutsDataAfterTheRefcountArea) {
    TempDir t;
    std::string img = t.path("f.qcow2");
    CreateOptions o;
    o.format = "qcow2";
    o.size = (1 << 20) + 512;
    o.sizeGiven = true;
    o.clusterSize = 512;
    o.preallocation = Preallocation::Falloc;
    createImage(img, o);
    auto d = openRw(img);
    // 512-byte clusters: header, L2 (in the old refcount table), refcount block, L1, 8 new
    // refcount blocks, the new table; then 2049 data clusters in one run.
    LayerExtent e = d->layerStatus(0, o.size);
    EXPECT_EQ(e.kind, Allocation::Data);
    ASSERT_TRUE(e.hostOffset.has_value());
    EXPECT_EQ(*e.hostOffset, 13u * 512);
    EXPECT_EQ(d->layerStatus(o.size - 512, 512).hostOffset, 13u * 512 + o.size - 512);
    EXPECT_EQ(readRange(*d, 0, 4096), std::vector<uint8_t>(4096, 0));
    d->write(100, pattern(1000, 1));
    EXPECT_EQ(readRange(*d, 100, 1000), pattern(1000, 1));
    d.reset();
    expectClean(img);
}

TEST(Qcow2Fidelity, AllocationPastTheRefcountTableKeepsTheImageConsistent) {
    TempDir t;
    std::string img = t.path("g.qcow2");
    createQcow2(img, 16 << 20, 512);
    auto d = openRw(img);
    // 512-byte clusters: one table cluster covers 64 blocks of 256 clusters; writing more
    // than 8 MiB needs new refcount blocks and a bigger table.
    std::vector<uint8_t> chunk = pattern(1 << 20, 7);
    for (uint64_t off = 0; off < (10u << 20); off += chunk.size())
        d->write(off, chunk);
    for (uint64_t off = 0; off < (10u << 20); off += chunk.size())
        EXPECT_EQ(readRange(*d, off, chunk.size()), chunk) << "at " << off;
    d->flush();
    d.reset();
    expectClean(img);
    auto again = openRo(img);
    EXPECT_EQ(readRange(*again, 9 << 20, chunk.size()), chunk);
}

} // namespace
} // namespace e2kvm::block::test

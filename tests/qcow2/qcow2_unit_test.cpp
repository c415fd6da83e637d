// Unit tests of the qcow2 driver through the BlockDriver interface (no peer tools).
#include "TestSupport.h"
#include "block/ImageCheck.h"
#include "block/ImageDescription.h"
#include "block/qcow2/Qcow2Driver.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

using namespace e2kvm::block;
using namespace e2kvm::block::test;

namespace {

void expectClean(const std::string& img) {
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 0u) << img;
    EXPECT_EQ(r.leaks, 0u) << img;
    EXPECT_EQ(r.checkErrors, 0u) << img;
    for (const auto& m : r.messages)
        ADD_FAILURE() << m;
}

// A model of the disk next to the image: every operation is applied to both.
struct Model {
    std::vector<uint8_t> bytes;
    void write(uint64_t off, const std::vector<uint8_t>& d) {
        std::memcpy(bytes.data() + off, d.data(), d.size());
    }
    void zero(uint64_t off, uint64_t len) { std::memset(bytes.data() + off, 0, len); }
};

} // namespace

TEST(Qcow2, CreateOpenDescribe) {
    TempDir t;
    createQcow2(t.path("a.qcow2"), 1 << 30);
    auto d = openRo(t.path("a.qcow2"));
    EXPECT_EQ(d->formatName(), "qcow2");
    EXPECT_EQ(d->size(), 1u << 30);
    EXPECT_EQ(d->clusterSize(), 65536u);
    ImageDescription desc;
    d->describe(desc);
    ASSERT_TRUE(desc.qcow2);
    EXPECT_EQ(desc.qcow2->compat, "1.1");
    EXPECT_EQ(desc.qcow2->refcountBits, 16u);
    EXPECT_EQ(desc.qcow2->compressionType, "zlib");
    EXPECT_FALSE(desc.qcow2->corrupt);
    LayerExtent e = d->layerStatus(0, d->size());
    EXPECT_EQ(e.kind, Allocation::Unallocated);
    EXPECT_EQ(e.length, d->size());
    std::vector<uint8_t> buf(4096, 0xff);
    d->read(12345, buf);
    EXPECT_EQ(buf, std::vector<uint8_t>(4096, 0));
    EXPECT_THROW(d->write(0, buf), BlockError); // read-only
    expectClean(t.path("a.qcow2"));
}

TEST(Qcow2, WriteReadModelAcrossClusterSizes) {
    for (uint32_t cs : {512u, 4096u, 65536u}) {
        TempDir t;
        std::string img = t.path("w.qcow2");
        const uint64_t size = 4 << 20;
        createQcow2(img, size, cs);
        Model m{std::vector<uint8_t>(size, 0)};
        {
            auto d = openRw(img);
            uint8_t seed = 1;
            for (auto [off, len] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 100},
                                                                              {1000, 70000},
                                                                              {cs - 1, 2},
                                                                              {3 * cs, cs},
                                                                              {size - 5000, 5000},
                                                                              {200000, 1 << 20},
                                                                              {50, 200000},
                                                                              {2 << 20, 3}}) {
                auto data = pattern(len, seed++);
                d->write(off, data);
                m.write(off, data);
            }
            EXPECT_TRUE(readAll(*d) == m.bytes) << cs;
        }
        auto d = openRo(img);
        EXPECT_TRUE(readAll(*d) == m.bytes) << cs;
        expectClean(img);
    }
}

TEST(Qcow2, LargeWriteIsContiguousAndMergedInStatus) {
    TempDir t;
    std::string img = t.path("c.qcow2");
    createQcow2(img, 64 << 20);
    auto d = openRw(img);
    d->write(0, pattern(8 << 20, 3));
    LayerExtent e = d->layerStatus(0, 64 << 20);
    EXPECT_EQ(e.kind, Allocation::Data);
    EXPECT_EQ(e.length, 8u << 20);
    ASSERT_TRUE(e.hostOffset);
    LayerExtent rest = d->layerStatus(8 << 20, 64 << 20);
    EXPECT_EQ(rest.kind, Allocation::Unallocated);
    EXPECT_EQ(rest.length, 56u << 20);
    d.reset();
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.fragmentedClusters, 0u);
    EXPECT_EQ(r.allocatedClusters, 128u);
}

TEST(Qcow2, ZeroesAndDiscard) {
    TempDir t;
    std::string img = t.path("z.qcow2");
    createQcow2(img, 4 << 20);
    auto d = openRw(img);
    d->write(0, pattern(1 << 20, 5));
    d->writeZeroes(65536, 131072);
    LayerExtent e = d->layerStatus(65536, 1 << 20);
    EXPECT_EQ(e.kind, Allocation::Zero);
    EXPECT_EQ(e.length, 131072u);
    EXPECT_TRUE(e.hostOffset); // allocation kept without MayUnmap
    d->writeZeroes(262144, 65536, ZeroMayUnmap);
    e = d->layerStatus(262144, 65536);
    EXPECT_EQ(e.kind, Allocation::Zero);
    EXPECT_FALSE(e.hostOffset);
    d->discard(393216, 65536 + 100); // partial tail ignored
    e = d->layerStatus(393216, 1 << 20);
    EXPECT_EQ(e.kind, Allocation::Zero);
    EXPECT_EQ(e.length, 65536u);
    // Partial zeroing writes explicit zeros.
    d->writeZeroes(500000, 1000);
    std::vector<uint8_t> buf(1 << 20);
    d->read(0, buf);
    auto expect = pattern(1 << 20, 5);
    std::memset(expect.data() + 65536, 0, 131072);
    std::memset(expect.data() + 262144, 0, 65536);
    std::memset(expect.data() + 393216, 0, 65536);
    std::memset(expect.data() + 500000, 0, 1000);
    EXPECT_TRUE(buf == expect);
    EXPECT_THROW(d->writeZeroes(600001, 10, ZeroNoFallback), BlockError);
    // Writing into a zeroed cluster with a kept allocation.
    d->write(65536 + 10, pattern(10, 1));
    d.reset();
    expectClean(img);
}

TEST(Qcow2, BackingCopyOnWriteAndRelativeName) {
    TempDir t;
    std::string base = t.path("base.qcow2"), top = t.path("top.qcow2");
    createQcow2(base, 2 << 20);
    auto basedata = pattern(2 << 20, 7);
    openRw(base)->write(0, basedata);
    createQcow2(top, 3 << 20, 65536, "base.qcow2", "qcow2"); // relative to top's directory
    {
        auto d = openRw(top);
        ASSERT_NE(d->backing(), nullptr);
        ImageDescription desc;
        d->describe(desc);
        EXPECT_EQ(desc.backingFilename, "base.qcow2");
        EXPECT_EQ(desc.fullBackingFilename, base);
        EXPECT_EQ(desc.backingFormat, "qcow2");
        d->write(100, pattern(10, 1));           // COW of cluster 0
        d->write(65536 * 3 - 5, pattern(10, 2)); // COW of clusters 2 and 3
        d->write((2 << 20) + 7, pattern(10, 3)); // past the backing file's end
        d->discard(65536 * 10, 65536);           // reads as zero afterwards (v3, like QEMU)
        auto expect = basedata;
        expect.resize(3 << 20, 0);
        auto p1 = pattern(10, 1), p2 = pattern(10, 2), p3 = pattern(10, 3);
        std::memcpy(&expect[100], p1.data(), 10);
        std::memcpy(&expect[65536 * 3 - 5], p2.data(), 10);
        std::memcpy(&expect[(2 << 20) + 7], p3.data(), 10);
        std::memset(&expect[65536 * 10], 0, 65536);
        EXPECT_TRUE(readAll(*d) == expect);
        EXPECT_EQ(d->layerStatus(65536 * 5, 65536).kind, Allocation::Unallocated);
    }
    EXPECT_TRUE(readAll(*openRo(base)) == basedata); // backing untouched
    expectClean(top);
    // Size taken from the backing file.
    createQcow2(t.path("s.qcow2"), 0, 65536, base, "qcow2");
    EXPECT_EQ(openRo(t.path("s.qcow2"))->size(), 2u << 20);
}

TEST(Qcow2, BackingLoopIsDetected) {
    TempDir t;
    std::string a = t.path("a.qcow2"), b = t.path("b.qcow2");
    createQcow2(b, 1 << 20);
    createQcow2(a, 1 << 20, 65536, "b.qcow2", "qcow2");
    // Point b at a by rewriting b as an overlay of a.
    createQcow2(b, 1 << 20, 65536, "a.qcow2", "qcow2");
    try {
        openRo(a);
        FAIL() << "loop not detected";
    } catch (const BlockError& e) {
        EXPECT_NE(std::string(e.what()).find("loop"), std::string::npos) << e.what();
    }
    createQcow2(t.path("self.qcow2"), 1 << 20, 65536, "self.qcow2", "qcow2");
    EXPECT_THROW(openRo(t.path("self.qcow2")), BlockError);
}

TEST(Qcow2, CompressedWriteReadAndOverwrite) {
    TempDir t;
    std::string img = t.path("c.qcow2");
    createQcow2(img, 1 << 20);
    auto d = openRw(img);
    ASSERT_TRUE(d->supportsCompression());
    std::vector<uint8_t> text(65536);
    for (size_t i = 0; i < text.size(); ++i)
        text[i] = uint8_t("compressible qcow2 data "[i % 24]);
    d->writeCompressed(0, text);
    d->writeCompressed(65536, text);
    auto noise = pattern(65536, 4);
    d->writeCompressed(131072, noise); // incompressible: stored as a normal cluster
    EXPECT_TRUE(d->layerStatus(0, 65536).compressed);
    EXPECT_FALSE(d->layerStatus(131072, 65536).compressed);
    std::vector<uint8_t> buf(65536);
    d->read(65536, buf);
    EXPECT_TRUE(buf == text);
    d->read(131072, buf);
    EXPECT_TRUE(buf == noise);
    d.reset();
    expectClean(img);
    d = openRw(img);
    d->write(10, pattern(5, 9)); // COW out of a compressed cluster
    auto expect = text;
    auto p = pattern(5, 9);
    std::memcpy(&expect[10], p.data(), 5);
    d->read(0, buf);
    EXPECT_TRUE(buf == expect);
    d->discard(65536, 65536);
    d.reset();
    expectClean(img);
    EXPECT_THROW(openRw(img)->writeCompressed(100, text), BlockError);
}

TEST(Qcow2, TruncateGrowAndShrink) {
    TempDir t;
    std::string img = t.path("t.qcow2");
    createQcow2(img, 1 << 20, 512); // tiny clusters: the L1 table must grow
    auto d = openRw(img);
    d->write(1000, pattern(3000, 1));
    d->truncate(64 << 20);
    EXPECT_EQ(d->size(), 64u << 20);
    d->write((64 << 20) - 512, pattern(512, 2));
    std::vector<uint8_t> buf(3000);
    d->read(1000, buf);
    EXPECT_TRUE(buf == pattern(3000, 1));
    // Shrinking deletes the data past the new end (as QEMU's resize --shrink); grown again,
    // that area reads as zeros.
    d->truncate(1 << 20);
    EXPECT_EQ(d->size(), 1u << 20);
    d->truncate(64 << 20);
    buf.assign(512, 0xff);
    d->read((64 << 20) - 512, buf);
    EXPECT_TRUE(buf == std::vector<uint8_t>(512, 0));
    d->truncate(1 << 20);
    EXPECT_THROW(d->truncate(1000), BlockError); // not a multiple of 512
    d.reset();
    EXPECT_EQ(openRo(img)->size(), 1u << 20);
    expectClean(img);
}

TEST(Qcow2, RefcountTableGrowsWithSmallClusters) {
    TempDir t;
    std::string img = t.path("g.qcow2");
    createQcow2(img, 64 << 20, 512); // one refcount table cluster covers 8 MiB of host file
    auto data = pattern(24 << 20, 6);
    {
        auto d = openRw(img);
        for (uint64_t off = 0; off < data.size(); off += 1 << 20)
            d->write(off, std::span(data.data() + off, 1 << 20));
    }
    auto d = openRo(img);
    std::vector<uint8_t> buf(data.size());
    d->read(0, buf);
    EXPECT_TRUE(buf == data);
    expectClean(img);
}

TEST(Qcow2, SubByteAndWideRefcounts) {
    for (uint32_t bits : {1u, 2u, 4u, 8u, 32u, 64u}) {
        TempDir t;
        std::string img = t.path("r.qcow2");
        CreateOptions o;
        o.format = "qcow2";
        o.size = 8 << 20;
        o.sizeGiven = true;
        o.clusterSize = 4096;
        o.refcountBits = bits;
        createImage(img, o);
        {
            auto d = openRw(img);
            d->write(0, pattern(3 << 20, 2));
            d->writeZeroes(4096, 8192, ZeroMayUnmap);
        }
        expectClean(img);
        ImageDescription desc;
        openRo(img)->describe(desc);
        EXPECT_EQ(desc.qcow2->refcountBits, bits);
    }
}

TEST(Qcow2, Version2Images) {
    TempDir t;
    std::string img = t.path("v2.qcow2");
    CreateOptions o;
    o.format = "qcow2";
    o.size = 4 << 20;
    o.sizeGiven = true;
    o.compat = "0.10";
    createImage(img, o);
    auto d = openRw(img);
    d->write(0, pattern(200000, 1));
    d->writeZeroes(65536, 65536);
    EXPECT_THROW(d->writeZeroes(0, 65536, ZeroNoFallback), BlockError);
    d->discard(131072, 65536);
    std::vector<uint8_t> buf(65536, 1);
    d->read(65536, buf);
    EXPECT_EQ(buf, std::vector<uint8_t>(65536, 0));
    ImageDescription desc;
    d->describe(desc);
    EXPECT_EQ(desc.qcow2->compat, "0.10");
    d.reset();
    expectClean(img);
}

TEST(Qcow2, PreallocationModes) {
    for (Preallocation mode :
         {Preallocation::Metadata, Preallocation::Falloc, Preallocation::Full}) {
        TempDir t;
        std::string img = t.path("p.qcow2");
        CreateOptions o;
        o.format = "qcow2";
        o.size = 3 << 20;
        o.sizeGiven = true;
        o.preallocation = mode;
        createImage(img, o);
        auto d = openRw(img);
        EXPECT_EQ(d->layerStatus(0, 3 << 20).kind, Allocation::Data);
        EXPECT_EQ(readAll(*d), std::vector<uint8_t>(3 << 20, 0));
        uint64_t before = *d->layerStatus(65536, 1).hostOffset;
        d->write(65536 + 7, pattern(100, 1));
        EXPECT_EQ(*d->layerStatus(65536, 1).hostOffset, before); // written in place
        d.reset();
        expectClean(img);
    }
}

TEST(Qcow2, ConcurrentWritersAndReaders) {
    TempDir t;
    std::string img = t.path("mt.qcow2");
    const uint64_t cs = 4096, size = 16 << 20;
    createQcow2(img, size, cs);
    {
        auto d = openRw(img);
        std::atomic<bool> failed{false};
        std::vector<std::thread> threads;
        for (int th = 0; th < 6; ++th) {
            threads.emplace_back([&, th] {
                try {
                    // Each thread owns the 4 KiB slots with index % 6 == th.
                    for (uint64_t slot = uint64_t(th); slot < size / cs; slot += 6) {
                        auto data = pattern(cs, uint8_t(slot));
                        d->write(slot * cs, data);
                        std::vector<uint8_t> back(cs);
                        d->read(slot * cs, back);
                        if (back != data)
                            failed = true;
                        if (slot % 7 == 0)
                            d->writeZeroes(slot * cs, cs, ZeroMayUnmap);
                        if (slot % 11 == 0)
                            d->discard(slot * cs, cs);
                    }
                } catch (const std::exception& e) {
                    failed = true;
                    ADD_FAILURE() << e.what();
                }
            });
        }
        for (auto& th : threads)
            th.join();
        EXPECT_FALSE(failed);
        for (uint64_t slot = 0; slot < size / cs; ++slot) {
            std::vector<uint8_t> back(cs);
            d->read(slot * cs, back);
            auto expect = slot % 7 == 0 || slot % 11 == 0 ? std::vector<uint8_t>(cs, 0)
                                                          : pattern(cs, uint8_t(slot));
            ASSERT_TRUE(back == expect) << slot;
        }
    }
    expectClean(img);
}

TEST(Qcow2, RawImagesHaveNoCheck) {
    TempDir t;
    CreateOptions o;
    o.size = 1 << 20;
    createImage(t.path("r.raw"), o);
    try {
        checkImage(t.path("r.raw"), "", RepairMode::None);
        FAIL();
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOTSUP);
        EXPECT_STREQ(e.what(), "This image format does not support checks");
    }
}

TEST(Qcow2, CreateRejectsBadOptions) {
    TempDir t;
    auto bad = [&](auto tweak) {
        CreateOptions o;
        o.format = "qcow2";
        o.size = 1 << 20;
        o.sizeGiven = true;
        tweak(o);
        EXPECT_THROW(createImage(t.path("x.qcow2"), o), BlockError);
    };
    bad([](CreateOptions& o) { o.clusterSize = 256; });
    bad([](CreateOptions& o) { o.clusterSize = 4 << 20; });
    bad([](CreateOptions& o) { o.clusterSize = 3000; });
    bad([](CreateOptions& o) { o.refcountBits = 3; });
    bad([](CreateOptions& o) { o.refcountBits = 128; });
    bad([](CreateOptions& o) { o.compat = "2.0"; });
    bad([](CreateOptions& o) {
        o.compat = "0.10";
        o.lazyRefcounts = true;
    });
    bad([](CreateOptions& o) { o.size = 1000; });
    bad([](CreateOptions& o) { o.backingFile = std::string(1100, 'x'); });
}

TEST(Qcow2, ReusedClustersNeverLeakOldBytes) {
    TempDir t;
    std::string img = t.path("reuse.qcow2");
    createQcow2(img, 4 << 20);
    auto d = openRw(img);
    std::vector<uint8_t> text(65536);
    for (size_t i = 0; i < text.size(); ++i)
        text[i] = uint8_t("stale bytes! "[i % 13]);
    d->writeCompressed(0, text);
    d->writeCompressed(65536, text);
    uint64_t packed = *d->layerStatus(0, 1).hostOffset & ~uint64_t(65535);
    d->write(0, pattern(131072, 1)); // frees the host cluster holding the compressed data
    // ... once the new L2 entries are durable: the next flush.
    d->flush();
    d->write(5 * 65536 + 100, pattern(100, 2)); // partial write into a fresh cluster
    EXPECT_EQ(*d->layerStatus(5 * 65536, 1).hostOffset, packed); // the freed cluster is reused
    std::vector<uint8_t> buf(65536);
    d->read(5 * 65536, buf);
    std::vector<uint8_t> expect(65536, 0);
    auto p = pattern(100, 2);
    std::copy(p.begin(), p.end(), expect.begin() + 100);
    EXPECT_TRUE(buf == expect);
    // A zeroed cluster that keeps its allocation, then a partial write into it.
    d->writeZeroes(0, 65536);
    d->write(1000, pattern(10, 3));
    d->read(0, buf);
    std::fill(expect.begin(), expect.end(), 0);
    p = pattern(10, 3);
    std::copy(p.begin(), p.end(), expect.begin() + 1000);
    EXPECT_TRUE(buf == expect);
    d.reset();
    expectClean(img);
}

// With extended L2 entries (subclusters) the copy goes only into subclusters still
// unallocated: partial guest writes and zeroed subclusters keep what the guest put there, also
// when guest writes race with the copies.
TEST(Qcow2, PopulateFillsOnlyUnallocatedSubclusters) {
    TempDir t;
    std::string base = t.path("base.qcow2"), top = t.path("top.qcow2");
    const uint64_t cs = 65536, sc = cs / 32, size = 16 * cs;
    createQcow2(base, size);
    auto basedata = pattern(size, 5);
    openRw(base)->write(0, basedata);
    CreateOptions o;
    o.format = "qcow2";
    o.size = size;
    o.sizeGiven = true;
    o.backingFile = base;
    o.backingFormat = "qcow2";
    o.extendedL2 = true;
    createImage(top, o);
    auto d = openRw(top);
    auto* q = dynamic_cast<qcow2::Qcow2Driver*>(d.get());
    ASSERT_NE(q, nullptr);
    auto expect = basedata;
    auto guest = pattern(3000, 9);
    d->write(3 * cs + 1000, guest); // partial subclusters, the guest first
    std::memcpy(&expect[3 * cs + 1000], guest.data(), guest.size());
    d->writeZeroes(5 * cs + 4 * sc, 2 * sc);
    std::memset(&expect[5 * cs + 4 * sc], 0, 2 * sc);
    q->populate(0, basedata); // a copy read before those requests
    EXPECT_TRUE(readAll(*d) == expect);
    for (uint64_t off = 0; off < size; off += sc)
        EXPECT_NE(d->layerStatus(off, sc).kind, Allocation::Unallocated) << "offset " << off;
    d.reset();
    expectClean(top);

    // Racing: a writer fills the middle of every other cluster while stale copies land.
    createImage(top, o);
    d = openRw(top);
    q = dynamic_cast<qcow2::Qcow2Driver*>(d.get());
    std::thread writer([&] {
        for (uint64_t c = 0; c < 16; c += 2)
            d->write(c * cs + 5000, guest);
    });
    for (int round = 0; round < 4; ++round)
        for (uint64_t c = 0; c < 16; ++c)
            q->populate(c * cs, std::span(basedata).subspan(c * cs, cs));
    writer.join();
    expect = basedata;
    for (uint64_t c = 0; c < 16; c += 2)
        std::memcpy(&expect[c * cs + 5000], guest.data(), guest.size());
    EXPECT_TRUE(readAll(*d) == expect);
    d.reset();
    expectClean(top);
}

// Copy-on-read into a layer (a stream job's copy): only clusters still unallocated take the
// copy, zeros become zero clusters; a guest write that landed first keeps its data, also when
// the writes race with the copies.
TEST(Qcow2, PopulateFillsOnlyUnallocatedClusters) {
    TempDir t;
    std::string base = t.path("base.qcow2"), top = t.path("top.qcow2");
    const uint64_t cs = 65536, size = 64 * cs;
    createQcow2(base, size);
    auto basedata = pattern(size, 5);
    std::memset(&basedata[8 * cs], 0, 4 * cs); // clusters 8..11 read as zeros
    openRw(base)->write(0, basedata);
    createQcow2(top, size, cs, base, "qcow2");
    auto d = openRw(top);
    auto* q = dynamic_cast<qcow2::Qcow2Driver*>(d.get());
    ASSERT_NE(q, nullptr);
    auto guest = pattern(cs, 9);
    d->write(3 * cs, guest);  // the guest was first here
    q->populate(0, basedata); // a copy read before that write
    auto expect = basedata;
    std::memcpy(&expect[3 * cs], guest.data(), cs);
    EXPECT_TRUE(readAll(*d) == expect);
    for (uint64_t c = 0; c < 64; ++c) {
        LayerExtent e = d->layerStatus(c * cs, cs);
        EXPECT_NE(e.kind, Allocation::Unallocated) << "cluster " << c;
        if (c >= 8 && c < 12) {
            EXPECT_EQ(e.kind, Allocation::Zero) << "cluster " << c;
        }
    }
    d.reset();
    expectClean(top);

    // Racing: a writer fills every other cluster while copies of stale data land.
    createQcow2(top, size, cs, base, "qcow2");
    d = openRw(top);
    q = dynamic_cast<qcow2::Qcow2Driver*>(d.get());
    std::thread writer([&] {
        for (uint64_t c = 0; c < 64; c += 2)
            d->write(c * cs, guest);
    });
    for (int round = 0; round < 4; ++round)
        for (uint64_t c = 0; c < 64; ++c)
            q->populate(c * cs, std::span(basedata).subspan(c * cs, cs));
    writer.join();
    for (uint64_t c = 0; c < 64; ++c) {
        std::vector<uint8_t> got(cs);
        d->read(c * cs, got);
        if (c % 2 == 0) {
            EXPECT_TRUE(got == guest) << "cluster " << c << " lost the guest's write";
        } else {
            EXPECT_TRUE(std::equal(got.begin(), got.end(), basedata.begin() + long(c * cs)))
                << "cluster " << c;
        }
    }
    d.reset();
    expectClean(top);
}

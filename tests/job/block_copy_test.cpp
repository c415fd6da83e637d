// BlockCopy and the fleecing view: a qcow2 overlay backed by a running disk keeps showing the
// disk as it was while writers change the disk, also under concurrent writers and readers.
#include "JobTestImages.h"
#include "block/copy/BlockCopy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

namespace e2kvm::block {
namespace {

using test::makeImage;
using test::pattern;
using test::readAll;

constexpr uint64_t kMiB = 1 << 20;

struct Fleecing {
    test::TempDir dir;
    std::shared_ptr<BlockDriver> source, view;
    std::shared_ptr<BlockCopy> copy;

    Fleecing(const std::string& format, uint64_t size) {
        source = makeImage(dir.file("src"), format, size);
        view = makeImage(dir.file("fleece.qcow2"), "qcow2", size, source);
        copy = std::make_shared<BlockCopy>(source, view, 65536);
    }
    void start() {
        BlockDriver::ChangesPaused paused(*source);
        copy->markAll();
        source->addWriteInterceptor(copy, &paused);
        view->setReadGuard(copy);
    }
    void stop() {
        copy->deactivate();
        source->removeWriteInterceptor(copy.get());
        view->setReadGuard(nullptr);
    }
};

TEST(BlockCopy, OverlayShowsTheDiskAsItWasAndGrowsOnlyByChangedClusters) {
    Fleecing f("qcow2", 16 * kMiB);
    f.source->write(0, pattern(kMiB, 0x11));
    f.source->write(8 * kMiB, pattern(kMiB, 0x22));
    std::vector<uint8_t> before = readAll(*f.source);
    f.start();
    f.source->write(4096, pattern(4096, 0x33));            // inside a data cluster
    f.source->writeZeroes(8 * kMiB, 65536);                // zero write over data
    f.source->write(12 * kMiB, pattern(3 * 65536, 0x44));  // over zeros (unallocated)
    f.source->discard(8 * kMiB + 65536, 65536);
    EXPECT_EQ(readAll(*f.view), before);
    std::vector<uint8_t> now = readAll(*f.source);
    EXPECT_EQ(now[4096], 0x33);
    EXPECT_EQ(now[12 * kMiB], 0x44);
    // Only the clusters written after the point in time were copied into the overlay.
    uint64_t allocated = 0;
    for (uint64_t pos = 0; pos < f.view->size();) {
        LayerExtent e = f.view->layerStatus(pos, f.view->size() - pos);
        if (e.kind != Allocation::Unallocated)
            allocated += e.length;
        pos += e.length;
    }
    EXPECT_EQ(allocated, 6 * 65536u);
    // Writing the same clusters again copies nothing more.
    f.source->write(4096, pattern(4096, 0x55));
    EXPECT_EQ(f.copy->remainingBytes(), 16 * kMiB - 6 * 65536);
    f.stop();
    // Cluster 0 was copied before the stop: the overlay keeps it.
    f.source->write(0, pattern(65536, 0x66));
    EXPECT_EQ(readAll(*f.view)[0], before[0]);
}

TEST(BlockCopy, FailedCopyFailsTheWriteAndLeavesTheClusterToCopy) {
    test::TempDir dir;
    auto source = makeImage(dir.file("src.raw"), "raw", 4 * kMiB);
    source->write(0, pattern(kMiB, 0x77));
    auto target = std::make_shared<test::FailingImage>(4 * kMiB, 65536);
    auto copy = std::make_shared<BlockCopy>(source, target, 65536);
    int reported = 0;
    copy->setOnCopyError([&](const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOSPC);
        ++reported;
    });
    copy->markAll();
    source->addWriteInterceptor(copy);
    source->write(0, pattern(512, 0x01)); // the first cluster fits
    try {
        source->write(kMiB, pattern(512, 0x02));
        FAIL() << "the write should fail with the copy";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOSPC);
    }
    EXPECT_EQ(reported, 1);
    EXPECT_TRUE(copy->pending(kMiB));
    std::vector<uint8_t> b(512);
    source->read(kMiB, b);
    EXPECT_EQ(b[0], 0x00) << "the failed write must not reach the source";
    source->removeWriteInterceptor(copy.get());
}

TEST(BlockCopy, ResizeIsRefusedWhileAPointInTimeIsActive) {
    Fleecing f("raw", 2 * kMiB);
    f.start();
    EXPECT_THROW(f.source->truncate(4 * kMiB), BlockError);
    f.stop();
    f.source->truncate(4 * kMiB);
    EXPECT_EQ(f.source->size(), 4 * kMiB);
}

// Writers change the disk at random while readers read the overlay: every read must equal the
// disk as it was at the point in time.
TEST(BlockCopy, StressWritersAgainstReadersOfTheView) {
    for (const char* format : {"raw", "qcow2"}) {
        Fleecing f(format, 8 * kMiB);
        std::mt19937_64 rng(42);
        std::vector<uint8_t> init(8 * kMiB);
        for (size_t i = 0; i < init.size(); i += 8) {
            uint64_t v = rng();
            std::memcpy(&init[i], &v, 8);
        }
        for (size_t i = 2 * kMiB; i < 3 * kMiB; ++i)
            init[i] = 0; // a zero run
        f.source->write(0, init);
        f.start();
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> mismatches{0}, reads{0}, writes{0};
        std::vector<std::thread> threads;
        for (int w = 0; w < 3; ++w)
            threads.emplace_back([&, w] {
                std::mt19937_64 r(100 + w);
                std::vector<uint8_t> buf(256 * 1024, uint8_t(0xa0 + w));
                while (!stop) {
                    uint64_t len = 512 * (1 + r() % 512);
                    uint64_t off = (r() % (8 * kMiB / 512)) * 512;
                    len = std::min(len, 8 * kMiB - off);
                    switch (r() % 4) {
                    case 0: f.source->writeZeroes(off, len, ZeroMayUnmap); break;
                    case 1: f.source->discard(off, len); break;
                    default: f.source->write(off, std::span(buf).first(size_t(len))); break;
                    }
                    ++writes;
                }
            });
        for (int rd = 0; rd < 2; ++rd)
            threads.emplace_back([&, rd] {
                std::mt19937_64 r(200 + rd);
                std::vector<uint8_t> buf;
                while (!stop) {
                    uint64_t len = 512 * (1 + r() % 1024);
                    uint64_t off = (r() % (8 * kMiB / 512)) * 512;
                    len = std::min(len, 8 * kMiB - off);
                    buf.resize(size_t(len));
                    f.view->read(off, buf);
                    if (std::memcmp(buf.data(), init.data() + off, buf.size()) != 0)
                        ++mismatches;
                    ++reads;
                }
            });
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        stop = true;
        for (auto& t : threads)
            t.join();
        EXPECT_EQ(mismatches.load(), 0u) << format;
        EXPECT_GT(reads.load(), 20u) << format;
        EXPECT_GT(writes.load(), 20u) << format;
        EXPECT_EQ(readAll(*f.view), init) << format;
        f.stop();
    }
}

} // namespace
} // namespace e2kvm::block

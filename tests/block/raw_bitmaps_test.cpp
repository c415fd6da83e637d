// Raw images: in-memory dirty bitmaps recording every kind of change, and the cached file
// length (size() without fstat) kept right by our own writes and truncates.
#include "block/ImageOpen.h"
#include "block/RawImage.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>
#include <vector>

using namespace e2kvm::block;

namespace {

class RawBitmaps : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/e2kvm-rawbm-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string makeRaw(const char* name, uint64_t size) {
        std::string path = dir_ + "/" + name;
        CreateOptions co;
        co.format = "raw";
        co.size = size;
        createImage(path, co);
        return path;
    }

    static void apply(BlockDriver& img, BitmapAction a) {
        img.bitmaps()->apply(std::span<const BitmapAction>(&a, 1));
    }
    static BitmapAction add(const std::string& name, bool persistent = false,
                            uint64_t granularity = 0) {
        BitmapAction a;
        a.kind = BitmapActionKind::Add;
        a.name = name;
        a.persistent = persistent;
        a.granularity = granularity;
        return a;
    }
    static std::vector<DirtyExtent> dirty(BlockDriver& img, const std::string& name) {
        std::vector<DirtyExtent> out;
        for (const DirtyExtent& e : img.bitmaps()->usable(name)->extents(0, img.size(), 1000))
            if (e.dirty)
                out.push_back(e);
        return out;
    }

    std::string dir_;
};

TEST_F(RawBitmaps, NonPersistentBitmapRecordsWritesZeroesAndDiscards) {
    auto img = openImage(makeRaw("a.raw", 4 << 20), {.format = "raw", .readOnly = false});
    ASSERT_NE(img->bitmaps(), nullptr);
    EXPECT_TRUE(img->bitmaps()->list().empty());
    apply(*img, add("b"));
    auto b = img->bitmaps()->find("b");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->granularity, 65536u); // no cluster size: QEMU's 64 KiB
    EXPECT_TRUE(b->enabled);
    EXPECT_FALSE(b->persistent);
    EXPECT_EQ(b->bitmap->dirtyBytes(), 0u);

    std::vector<uint8_t> data(512, 0x5a);
    img->write(512, data);                                 // granule 0
    img->writeZeroes(1 << 20, 4096, ZeroNone);             // granule 16
    img->writeZeroes((2 << 20) + 70000, 10, ZeroMayUnmap); // granule 33
    img->discard(3 << 20, 131072);                         // granules 48, 49
    std::vector<DirtyExtent> expect = {{0, 65536, true},
                                       {1 << 20, 65536, true},
                                       {(2 << 20) + 65536, 65536, true},
                                       {3 << 20, 131072, true}};
    EXPECT_EQ(dirty(*img, "b"), expect);
    EXPECT_EQ(img->bitmaps()->usable("b")->dirtyBytes(), 5u * 65536);
    // Reads change nothing.
    img->read(0, data);
    EXPECT_EQ(dirty(*img, "b"), expect);
}

TEST_F(RawBitmaps, DisabledBitmapRecordsNothingAndGranularityIsKept) {
    auto img = openImage(makeRaw("a.raw", 1 << 20), {.format = "raw", .readOnly = false});
    BitmapAction a = add("off");
    a.disabled = true;
    apply(*img, a);
    apply(*img, add("fine", false, 512));
    std::vector<uint8_t> data(100, 1);
    img->write(1000, data);
    EXPECT_EQ(img->bitmaps()->usable("off")->dirtyBytes(), 0u);
    std::vector<DirtyExtent> expect = {{512, 1024, true}};
    EXPECT_EQ(dirty(*img, "fine"), expect);
}

TEST_F(RawBitmaps, PersistentBitmapsAreRefused) {
    auto img = openImage(makeRaw("a.raw", 1 << 20), {.format = "raw", .readOnly = false});
    try {
        apply(*img, add("p", true));
        FAIL() << "persistent bitmap added to a raw image";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOTSUP);
    }
    EXPECT_TRUE(img->bitmaps()->list().empty());
}

TEST_F(RawBitmaps, ReadOnlyImageAllowsNoBitmapChanges) {
    auto img = openImage(makeRaw("a.raw", 1 << 20), {.format = "raw", .readOnly = true});
    ASSERT_NE(img->bitmaps(), nullptr);
    try {
        apply(*img, add("b"));
        FAIL() << "bitmap added to a read-only image";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EPERM);
    }
}

TEST_F(RawBitmaps, RemovedBitmapStopsRecordingAndImageClosesWithBitmaps) {
    auto img = openImage(makeRaw("a.raw", 1 << 20), {.format = "raw", .readOnly = false});
    apply(*img, add("b"));
    auto bm = img->bitmaps()->usable("b");
    BitmapAction rm;
    rm.kind = BitmapActionKind::Remove;
    rm.name = "b";
    apply(*img, rm);
    std::vector<uint8_t> data(512, 1);
    img->write(0, data);
    EXPECT_EQ(bm->dirtyBytes(), 0u);
    apply(*img, add("c"));
    img->write(0, data);
    img.reset(); // closing with a live recorder must not touch freed memory (ASan)
    SUCCEED();
}

TEST_F(RawBitmaps, CachedSizeFollowsTailWritesAndTruncate) {
    std::string path = makeRaw("odd.raw", 1000);
    auto img = openImage(path, {.format = "raw", .readOnly = false});
    apply(*img, add("b", false, 512));
    EXPECT_EQ(img->size(), 1024u);
    // The zero tail past the file's end is reported as zero.
    LayerExtent tail = img->layerStatus(1000, 24);
    EXPECT_EQ(tail.kind, Allocation::Zero);
    // A write into the tail lengthens the file; the size stays a sector multiple.
    std::vector<uint8_t> data(24, 0x77), back(24);
    img->write(1000, data);
    EXPECT_EQ(std::filesystem::file_size(path), 1024u);
    EXPECT_EQ(img->size(), 1024u);
    img->read(1000, back);
    EXPECT_EQ(back, data);
    EXPECT_EQ(img->layerStatus(512, 512).kind, Allocation::Data);

    // Growing through the driver: the size and the bitmaps follow.
    img->truncate(1 << 20);
    EXPECT_EQ(img->size(), 1u << 20);
    EXPECT_EQ(img->bitmaps()->usable("b")->diskSize(), 1u << 20);
    std::vector<uint8_t> end(512, 0x42);
    img->write((1 << 20) - 512, end);
    // Shrinking: the bitmaps shrink with it.
    img->truncate(8192);
    EXPECT_EQ(img->size(), 8192u);
    EXPECT_EQ(std::filesystem::file_size(path), 8192u);
    EXPECT_EQ(img->bitmaps()->usable("b")->diskSize(), 8192u);
    EXPECT_THROW(img->read(8192, back), BlockError);

    // A zero-range write into the tail of an odd-length file lengthens it too.
    img->truncate(5000);
    EXPECT_EQ(img->size(), 5120u);
    img->writeZeroes(5000, 120, ZeroNone);
    EXPECT_EQ(img->size(), 5120u);
    EXPECT_EQ(img->layerStatus(4608, 512).length, 512u);
}

TEST_F(RawBitmaps, OutsideLengthChangeIsNotFollowed) {
    std::string path = makeRaw("a.raw", 65536);
    auto img = openImage(path, {.format = "raw", .readOnly = false});
    // Another process lengthens the file: like QEMU, the open disk keeps its size.
    int fd = ::open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 131072), 0);
    ::close(fd);
    EXPECT_EQ(img->size(), 65536u);
    std::vector<uint8_t> data(512);
    EXPECT_THROW(img->read(65536, data), BlockError);
    // Reopening sees the new length.
    img = openImage(path, {.format = "raw", .readOnly = true});
    EXPECT_EQ(img->size(), 131072u);
}

} // namespace

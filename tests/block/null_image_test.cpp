// NullImage (QEMU's null-co): size and its limits, zeros on every read, dropped writes, block
// status with and without read-zeroes, in-memory bitmaps, opening "null-co://".
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"
#include "block/NullImage.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <vector>

using namespace e2kvm::block;

namespace {

NullOptions opts(uint64_t size, bool readZeroes) {
    NullOptions o;
    o.size = size;
    o.readZeroes = readZeroes;
    return o;
}

TEST(NullImage, SizeDefaultsRoundingAndLimit) {
    NullImage def("null-co://", NullOptions{});
    EXPECT_EQ(def.size(), uint64_t{1} << 30);
    EXPECT_EQ(def.formatName(), "null-co");
    EXPECT_EQ(def.filename(), "null-co://");
    EXPECT_FALSE(def.readZeroes());
    EXPECT_EQ(NullImage("n", opts(1000, true)).size(), 1024u);
    EXPECT_EQ(NullImage("n", opts(0, true)).size(), 0u);
    EXPECT_EQ(NullImage("n", opts(NullImage::kMaxSize, true)).size(), NullImage::kMaxSize);
    try {
        NullImage big("n", opts(NullImage::kMaxSize + 1, true));
        FAIL() << "size past the limit accepted";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EFBIG);
        EXPECT_NE(std::string(e.what()).find("File too large"), std::string::npos);
    }
    EXPECT_THROW(NullImage("n", opts(~uint64_t{0}, true)), BlockError);
}

TEST(NullImage, ReadsGiveZerosWithOrWithoutReadZeroes) {
    for (bool rz : {true, false}) {
        NullImage img("n", opts(1 << 20, rz));
        std::vector<uint8_t> data(4096, 0xee);
        img.write(8192, data); // dropped
        std::vector<uint8_t> buf(65536, 0xaa);
        img.read(0, buf);
        EXPECT_EQ(buf, std::vector<uint8_t>(65536, 0)) << "read-zeroes=" << rz;
        img.writeZeroes(0, 4096);
        img.discard(0, 4096);
        img.flush();
        EXPECT_THROW(img.read((1 << 20) - 100, buf), BlockError); // past the end
    }
}

TEST(NullImage, BlockStatusAsQemu) {
    NullImage zeros("n", opts(4 << 20, true));
    LayerExtent e = zeros.layerStatus(65536, 1 << 30);
    EXPECT_EQ(e.kind, Allocation::Zero);
    EXPECT_EQ(e.length, (4u << 20) - 65536);
    ASSERT_TRUE(e.hostOffset);
    EXPECT_EQ(*e.hostOffset, 65536u);
    ChainExtent c = chainStatus(zeros, 0, zeros.size());
    EXPECT_TRUE(c.present);
    EXPECT_TRUE(c.zero);
    EXPECT_FALSE(c.data);
    EXPECT_EQ(c.length, 4u << 20);

    NullImage plain("n", opts(4 << 20, false));
    e = plain.layerStatus(0, 4 << 20);
    EXPECT_EQ(e.kind, Allocation::Unallocated);
    EXPECT_FALSE(e.hostOffset);
    c = chainStatus(plain, 0, plain.size());
    EXPECT_FALSE(c.present);
    EXPECT_FALSE(c.data);
    EXPECT_FALSE(c.zero); // qemu-img map: "zero": false
    EXPECT_EQ(c.length, 4u << 20);
}

TEST(NullImage, InMemoryBitmapsRecordWrites) {
    NullImage img("n", opts(4 << 20, true));
    ASSERT_NE(img.bitmaps(), nullptr);
    BitmapAction add;
    add.kind = BitmapActionKind::Add;
    add.name = "b";
    add.persistent = false;
    img.bitmaps()->apply(std::span<const BitmapAction>(&add, 1));
    EXPECT_EQ(img.bitmaps()->find("b")->granularity, 65536u);
    std::vector<uint8_t> data(512, 1);
    img.write((1 << 20) + 100, data);
    img.writeZeroes(3 << 20, 65537);
    img.discard(0, 1);
    auto bm = img.bitmaps()->usable("b");
    EXPECT_TRUE(bm->test(0));
    EXPECT_TRUE(bm->test(1 << 20));
    EXPECT_FALSE(bm->test(2 << 20));
    EXPECT_TRUE(bm->test((3 << 20) + 65536));
    EXPECT_EQ(bm->dirtyBytes(), 4u * 65536);

    add.name = "p";
    add.persistent = true;
    EXPECT_THROW(img.bitmaps()->apply(std::span<const BitmapAction>(&add, 1)), BlockError);
}

TEST(NullImage, ReadOnlyRefusesWritesAndResizeIsUnsupported) {
    NullOptions o = opts(1 << 20, true);
    o.readOnly = true;
    NullImage ro("n", o);
    std::vector<uint8_t> data(512);
    EXPECT_THROW(ro.write(0, data), BlockError);
    NullImage rw("n", opts(1 << 20, true));
    BitmapAction add;
    add.kind = BitmapActionKind::Add;
    add.name = "b";
    add.persistent = false;
    rw.bitmaps()->apply(std::span<const BitmapAction>(&add, 1));
    try {
        rw.truncate(2 << 20);
        FAIL() << "null-co resized";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOTSUP);
    }
    EXPECT_EQ(rw.size(), 1u << 20);
    // The failed resize left the bitmap as it was.
    EXPECT_EQ(rw.bitmaps()->usable("b")->diskSize(), 1u << 20);
    EXPECT_EQ(rw.bitmaps()->usable("b")->dirtyBytes(), 0u);
}

TEST(NullImage, LatencyIsCapped) {
    NullOptions o = opts(4096, true);
    o.latencyNs = ~uint64_t{0};
    EXPECT_EQ(NullImage("n", o).latencyNs(), NullImage::kMaxLatencyNs);
    o.latencyNs = 1000;
    NullImage img("n", o);
    EXPECT_EQ(img.latencyNs(), 1000u);
    std::vector<uint8_t> buf(4096, 9);
    img.read(0, buf);
    EXPECT_EQ(buf, std::vector<uint8_t>(4096, 0));
}

TEST(NullImage, FilenameDescribesOptions) {
    NullOptions o = opts(4 << 20, true);
    EXPECT_EQ(NullImage::describeOptions(o, false, false), "null-co://");
    EXPECT_EQ(NullImage::describeOptions(o, true, true),
              "json:{\"driver\": \"null-co\", \"read-zeroes\": true, \"size\": 4194304}");
    EXPECT_EQ(NullImage::describeOptions(o, true, false),
              "json:{\"driver\": \"null-co\", \"size\": 4194304}");
}

TEST(NullImage, OpenByProtocolName) {
    auto img = openImage("null-co://", {.format = "", .readOnly = false});
    // As QEMU, a raw format node stands over the protocol node the name opens.
    EXPECT_EQ(img->formatName(), "raw");
    EXPECT_EQ(img->size(), uint64_t{1} << 30);
    try {
        openImage("null-co://x", {});
        FAIL() << "null-co://x opened";
    } catch (const BlockError& e) {
        EXPECT_NE(std::string(e.what()).find("The only allowed filename for this driver is "
                                             "'null-co://'"),
                  std::string::npos);
    }
}

} // namespace

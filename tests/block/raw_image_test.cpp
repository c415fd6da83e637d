#include "block/ChainStatus.h"
#include "block/ImageOpen.h"
#include "tests/lib/ProcessScratchDir.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

using namespace e2kvm::block;

namespace {
std::string tempPath(const char* name) {
    static e2kvm::test::ProcessScratchDir scratch("e2kvm-test-");
    return scratch.path(name);
}
} // namespace

TEST(ParseSize, Suffixes) {
    EXPECT_EQ(parseSize("4096"), 4096u);
    EXPECT_EQ(parseSize("64k"), 65536u);
    EXPECT_EQ(parseSize("1M"), 1u << 20);
    EXPECT_EQ(parseSize("1.5G"), 3ull << 29);
    EXPECT_EQ(parseSize("2T"), 2ull << 40);
    EXPECT_THROW(parseSize("-1"), BlockError);
    EXPECT_THROW(parseSize("12x"), BlockError);
    EXPECT_THROW(parseSize(""), BlockError);
    EXPECT_THROW(parseSize("9E"), BlockError);
}

TEST(ResolveBacking, RelativeToImageDirectory) {
    EXPECT_EQ(resolveBackingPath("/a/b/top.qcow2", "base.raw"), "/a/b/base.raw");
    EXPECT_EQ(resolveBackingPath("/a/b/top.qcow2", "/x/base.raw"), "/x/base.raw");
    EXPECT_EQ(resolveBackingPath("top.qcow2", "base.raw"), "base.raw");
    EXPECT_EQ(resolveBackingPath("d/top.qcow2", "../base.raw"), "d/../base.raw");
    EXPECT_EQ(resolveBackingPath("d/top.qcow2", "nbd://host/x"), "nbd://host/x");
}

TEST(RawImage, WriteReadZeroAndStatus) {
    std::string path = tempPath("raw1.img");
    CreateOptions co;
    co.format = "raw";
    co.size = 4 << 20;
    createImage(path, co);
    auto img = openImage(path, {.format = "", .readOnly = false});
    EXPECT_EQ(img->formatName(), "raw");
    EXPECT_EQ(img->size(), 4u << 20);

    std::vector<uint8_t> data(65536, 0xab), back(65536);
    img->write(1 << 20, data);
    img->read(1 << 20, back);
    EXPECT_EQ(back, data);

    // As QEMU's file driver, creating the file wrote its first 4 KiB (zeros), so that much is
    // data; the rest up to the written range is a hole.
    ChainExtent e = chainStatus(*img, 0, img->size());
    EXPECT_TRUE(e.data);
    EXPECT_EQ(e.length, 4096u);
    e = chainStatus(*img, 4096, img->size());
    EXPECT_TRUE(e.zero);
    EXPECT_FALSE(e.data);
    EXPECT_EQ(e.length, (1u << 20) - 4096);
    e = chainStatus(*img, 1 << 20, img->size());
    EXPECT_TRUE(e.data);
    EXPECT_EQ(e.length, 65536u);

    img->writeZeroes(1 << 20, 4096, ZeroMayUnmap);
    img->read(1 << 20, std::span(back.data(), 4096));
    EXPECT_EQ(back[0], 0);
    EXPECT_EQ(back[4095], 0);

    EXPECT_THROW(img->read(4 << 20, std::span(back.data(), 1)), BlockError);
    try {
        img->write((4 << 20) - 1, std::span<const uint8_t>(data.data(), 2));
        FAIL();
    } catch (const BlockError& err) {
        EXPECT_EQ(err.errnoValue(), EINVAL);
    }
}

TEST(RawImage, ReadOnlyRefusesWrites) {
    std::string path = tempPath("raw2.img");
    CreateOptions co;
    co.size = 1 << 20;
    createImage(path, co);
    auto img = openImage(path, {.format = "raw", .readOnly = true});
    std::vector<uint8_t> data(512);
    try {
        img->write(0, data);
        FAIL();
    } catch (const BlockError& err) {
        EXPECT_EQ(err.errnoValue(), EPERM);
    }
}

TEST(RawImage, SizeRoundsUpToSector) {
    std::string path = tempPath("raw3.img");
    CreateOptions co;
    co.size = 1000;
    createImage(path, co);
    auto img = openImage(path, {.format = "raw"});
    EXPECT_EQ(img->size(), 1024u);
    std::vector<uint8_t> back(24, 0xff);
    img->read(1000, back);
    EXPECT_EQ(back, std::vector<uint8_t>(24, 0));
}

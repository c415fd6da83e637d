// BitmapCatalog batches and qcow2 persistent bitmaps through the block layer alone (no peers).
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/bitmap/DirtyExtents.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace e2kvm::block;

namespace {

class PersistTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (std::filesystem::temp_directory_path() / "persist-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/t.qcow2";
        CreateOptions c;
        c.format = "qcow2";
        c.size = 8 << 20;
        c.sizeGiven = true;
        createImage(path_, c);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::unique_ptr<BlockDriver> open(bool rw, bool forceShare = false) {
        OpenOptions o;
        o.format = "qcow2";
        o.readOnly = !rw;
        o.forceShare = forceShare;
        return openImage(path_, o);
    }
    std::vector<char> fileBytes() {
        std::ifstream f(path_, std::ios::binary);
        return {std::istreambuf_iterator<char>(f), {}};
    }
    static BitmapAction act(BitmapActionKind k, const std::string& name) {
        BitmapAction a;
        a.kind = k;
        a.name = name;
        return a;
    }
    static std::vector<DirtyExtent> dirty(const DirtyBitmap& b) {
        std::vector<DirtyExtent> out;
        for (const auto& e : dirtyExtents(b, 0, b.diskSize()))
            if (e.dirty)
                out.push_back(e);
        return out;
    }

    std::string dir_, path_;
};

TEST_F(PersistTest, AddWriteCloseReopenKeepsContentsAndFlags) {
    {
        auto img = open(true);
        ASSERT_NE(img->bitmaps(), nullptr);
        BitmapAction a = act(BitmapActionKind::Add, "b");
        BitmapAction d = act(BitmapActionKind::Add, "off");
        d.disabled = true;
        d.granularity = 512;
        std::vector<BitmapAction> batch{a, d};
        img->bitmaps()->apply(batch);
        std::vector<uint8_t> buf(4096, 0x11);
        img->write(3 << 20, buf);
    }
    auto img = open(false);
    auto list = img->bitmaps()->list();
    // As QEMU stores them: bitmaps added together go into the directory newest first.
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1].name, "b");
    EXPECT_TRUE(list[1].enabled);
    EXPECT_EQ(list[1].granularity, 65536u);
    EXPECT_FALSE(list[1].inconsistent);
    EXPECT_EQ(dirty(*list[1].bitmap), (std::vector<DirtyExtent>{{3 << 20, 65536, true}}));
    EXPECT_EQ(list[0].name, "off");
    EXPECT_FALSE(list[0].enabled);
    EXPECT_EQ(list[0].granularity, 512u);
    EXPECT_TRUE(dirty(*list[0].bitmap).empty());
    ImageDescription desc;
    img->describe(desc);
    ASSERT_TRUE(desc.qcow2);
    ASSERT_EQ(desc.qcow2->bitmaps.size(), 2u);
    EXPECT_EQ(desc.qcow2->bitmaps[1].flags, std::vector<std::string>{"auto"});
    EXPECT_TRUE(desc.qcow2->bitmaps[0].flags.empty());
}

TEST_F(PersistTest, ReadOnlyOpenWritesNothing) {
    {
        auto img = open(true);
        std::vector<BitmapAction> batch{act(BitmapActionKind::Add, "b")};
        img->bitmaps()->apply(batch);
    }
    auto before = fileBytes();
    {
        auto img = open(false);
        EXPECT_EQ(img->bitmaps()->list().size(), 1u);
        std::vector<BitmapAction> batch{act(BitmapActionKind::Clear, "b")};
        EXPECT_THROW(img->bitmaps()->apply(batch), BlockError);
    }
    EXPECT_EQ(fileBytes(), before);
}

TEST_F(PersistTest, InUseWhileOpenReadWrite) {
    {
        auto img = open(true);
        std::vector<BitmapAction> batch{act(BitmapActionKind::Add, "b")};
        img->bitmaps()->apply(batch);
    }
    auto rw = open(true);
    // Another reader is refused meanwhile (QEMU's image locks), as qemu-img info is ...
    EXPECT_THROW(open(false), BlockError);
    // ... and sees this with -U (force-share).
    auto ro = open(false, true);
    auto list = ro->bitmaps()->list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].inconsistent);
    EXPECT_THROW(ro->bitmaps()->usable("b"), BlockError);
    try {
        ro->bitmaps()->usable("b");
    } catch (const BlockError& e) {
        EXPECT_NE(std::string(e.what()).find("e2kvm-img bitmap --remove"), std::string::npos);
    }
}

TEST_F(PersistTest, FailingBatchChangesNothing) {
    auto img = open(true);
    BitmapCatalog& c = *img->bitmaps();
    std::vector<BitmapAction> setup{act(BitmapActionKind::Add, "a")};
    c.apply(setup);
    std::vector<uint8_t> buf(512, 1);
    img->write(0, buf);
    BitmapAction merge = act(BitmapActionKind::Merge, "a");
    merge.source = "missing";
    std::vector<BitmapAction> batch{act(BitmapActionKind::Add, "n"),
                                    act(BitmapActionKind::Clear, "a"), merge};
    EXPECT_THROW(c.apply(batch), BlockError);
    auto list = c.list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(dirty(*list[0].bitmap).size(), 1u) << "the clear must not have happened";
    uint64_t gen = c.generation();
    std::vector<BitmapAction> dup{act(BitmapActionKind::Add, "a")};
    EXPECT_THROW(c.apply(dup), BlockError);
    EXPECT_EQ(c.generation(), gen);
}

TEST_F(PersistTest, BatchAppliesInOrderAndRecordersFollow) {
    auto img = open(true);
    BitmapCatalog& c = *img->bitmaps();
    std::vector<BitmapAction> b1{act(BitmapActionKind::Add, "a")};
    c.apply(b1);
    std::vector<uint8_t> buf(512, 1);
    img->write(0, buf);
    // Checkpoint: disable a, add b; then copy a into c.
    BitmapAction merge = act(BitmapActionKind::Merge, "c");
    merge.source = "a";
    std::vector<BitmapAction> b2{act(BitmapActionKind::Disable, "a"),
                                 act(BitmapActionKind::Add, "b"), act(BitmapActionKind::Add, "c"),
                                 merge, act(BitmapActionKind::Disable, "c")};
    c.apply(b2);
    img->write(1 << 20, buf);
    auto a = c.usable("a"), b = c.usable("b"), cc = c.usable("c");
    EXPECT_EQ(dirty(*a), (std::vector<DirtyExtent>{{0, 65536, true}}));
    EXPECT_EQ(dirty(*b), (std::vector<DirtyExtent>{{1 << 20, 65536, true}}));
    EXPECT_EQ(dirty(*cc), dirty(*a));
    // Removing and re-adding under the same name gives a fresh, recording bitmap.
    std::vector<BitmapAction> b3{act(BitmapActionKind::Remove, "b"),
                                 act(BitmapActionKind::Add, "b")};
    c.apply(b3);
    EXPECT_TRUE(dirty(*c.usable("b")).empty());
    img->write(2 << 20, buf);
    EXPECT_EQ(dirty(*c.usable("b")), (std::vector<DirtyExtent>{{2 << 20, 65536, true}}));
}

TEST_F(PersistTest, ResizeKeepsBitmapsConsistent) {
    {
        auto img = open(true);
        BitmapAction d = act(BitmapActionKind::Add, "off");
        d.disabled = true;
        std::vector<BitmapAction> batch{act(BitmapActionKind::Add, "on"), d};
        img->bitmaps()->apply(batch);
        img->truncate(32 << 20);
        img->truncate(16 << 20);
    }
    auto img = open(false);
    for (const auto& b : img->bitmaps()->list()) {
        ASSERT_TRUE(b.bitmap) << b.name;
        EXPECT_EQ(b.bitmap->diskSize(), uint64_t{16} << 20) << b.name;
    }
}

TEST_F(PersistTest, BadNamesAndGranularitiesAreRefused) {
    auto img = open(true);
    BitmapCatalog& c = *img->bitmaps();
    BitmapAction g = act(BitmapActionKind::Add, "g");
    g.granularity = 1000;
    std::vector<BitmapAction> b1{g};
    EXPECT_THROW(c.apply(b1), BlockError);
    std::vector<BitmapAction> b2{act(BitmapActionKind::Add, std::string(1024, 'x'))};
    EXPECT_THROW(c.apply(b2), BlockError);
    std::vector<BitmapAction> b3{act(BitmapActionKind::Add, "")};
    EXPECT_THROW(c.apply(b3), BlockError);
    EXPECT_TRUE(c.list().empty());
}

// All-zero parts of a bitmap are stored as table entry 0, never as a data cluster, and the
// directory written on close has no in_use flag.
TEST_F(PersistTest, ZeroClustersAreTableEntryZero) {
    CreateOptions c;
    c.format = "qcow2";
    c.size = uint64_t{8} << 30; // 2 MiB of bitmap at 512 B granularity: 32 table entries
    c.sizeGiven = true;
    createImage(path_, c);
    {
        auto img = open(true);
        BitmapAction a = act(BitmapActionKind::Add, "fine");
        a.granularity = 512;
        std::vector<BitmapAction> batch{a};
        img->bitmaps()->apply(batch);
        std::vector<uint8_t> buf(512, 7);
        img->write(uint64_t{5} << 30, buf);
        img->bitmaps()->saveForClose();
    }
    auto bytes = fileBytes();
    auto be = [&](size_t off, int n) {
        uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v = v << 8 | uint8_t(bytes[off + size_t(i)]);
        return v;
    };
    ASSERT_EQ(be(88, 8) & 1, 1u) << "autoclear bitmaps bit";
    size_t pos = size_t(be(100, 4));
    uint64_t dirOffset = 0, dirSize = 0;
    while (pos + 8 <= 65536) {
        uint64_t type = be(pos, 4), len = be(pos + 4, 4);
        if (type == 0)
            break;
        if (type == kQcow2BitmapsExtensionType) {
            dirSize = be(pos + 16, 8);
            dirOffset = be(pos + 24, 8);
        }
        pos += 8 + size_t((len + 7) & ~uint64_t{7});
    }
    ASSERT_NE(dirOffset, 0u);
    Qcow2BitmapImageGeometry g{65536, c.size, uint64_t(bytes.size())};
    Qcow2BitmapsExtension ext{1, dirSize, dirOffset};
    auto dirBytes = std::span(reinterpret_cast<const uint8_t*>(bytes.data()) + dirOffset, dirSize);
    auto entries = parseQcow2BitmapDirectory(dirBytes, ext, g, "t");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].flags, kQcow2BitmapFlagAuto);
    ASSERT_EQ(entries[0].tableSize, 32u);
    auto tableBytes =
        std::span(reinterpret_cast<const uint8_t*>(bytes.data()) + entries[0].tableOffset,
                  size_t(entries[0].tableSize) * 8);
    auto table = parseQcow2BitmapTable(tableBytes, g, "t", "fine");
    // Granule 5 GiB / 512 is byte 1310720 of the stream: cluster 20.
    for (size_t i = 0; i < table.size(); ++i) {
        EXPECT_FALSE(table[i].allOnes) << i;
        EXPECT_EQ(table[i].dataOffset != 0, i == 20) << i;
    }
}
} // namespace

// qcow2 images with an external data file (incompatible bit 2, extension 0x44415441): guest
// data at host offset = guest offset in the data file, metadata and bitmaps in the image, the
// raw flag keeping the data file a faithful raw copy, and hostile headers and L2 entries.
#include "TestSupport.h"
#include "block/HostFile.h"
#include "block/ImageCheck.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/qcow2/Qcow2Image.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

using namespace e2kvm::block;
using namespace e2kvm::block::test;

namespace {

constexpr uint64_t kCluster = 65536;

uint64_t fileSize(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return 0;
    return uint64_t(st.st_size);
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

class Qcow2DataFile : public ::testing::Test {
protected:
    TempDir tmp;
    std::string img = tmp.path("meta.qcow2");
    std::string raw = tmp.path("disk.raw");

    // `name` "" is `raw`; a relative name is relative to the working directory (as QEMU's).
    void create(uint64_t size, bool rawFlag, const std::string& name = "",
                Preallocation prealloc = Preallocation::Off) {
        CreateOptions o;
        o.format = "qcow2";
        o.size = size;
        o.sizeGiven = true;
        o.dataFile = name.empty() ? raw : name;
        o.dataFileRaw = rawFlag;
        o.preallocation = prealloc;
        createImage(img, o);
    }
    std::string createError(const CreateOptions& o) {
        try {
            createImage(img, o);
        } catch (const BlockError& e) {
            return e.what();
        }
        return "";
    }
    void setField(size_t off, uint64_t v, int bytes) {
        std::vector<uint8_t> b(static_cast<size_t>(bytes), 0);
        putBe(b, 0, v, bytes);
        writeFileBytes(img, off, b);
    }
    // Opens read-only and reads everything; the error message, or "" on success.
    std::string readError() {
        try {
            auto d = openRo(img);
            readAll(*d);
        } catch (const BlockError& e) {
            return e.what();
        }
        return "";
    }
    uint64_t l2Entry(uint64_t index) {
        std::vector<uint8_t> f = readFile(img);
        uint64_t l1 = 0;
        for (int i = 0; i < 8; ++i)
            l1 = l1 << 8 | f[size_t(0x28 + i)];
        uint64_t l2 = 0;
        for (int i = 0; i < 8; ++i)
            l2 = l2 << 8 | f[size_t(l1 + uint64_t(i))];
        l2 &= 0x00fffffffffffe00ull;
        uint64_t e = 0;
        for (int i = 0; i < 8; ++i)
            e = e << 8 | f[size_t(l2 + index * 8 + uint64_t(i))];
        return e;
    }
};

} // namespace

TEST_F(Qcow2DataFile, GuestDataLandsInTheDataFileAtTheGuestOffset) {
    create(8 << 20, false);
    ASSERT_TRUE(exists(raw));
    EXPECT_EQ(fileSize(raw), 8u << 20);
    const uint64_t metaBefore = fileSize(img);
    std::vector<uint8_t> a = pattern(3 * kCluster + 100, 7);
    {
        auto d = openRw(img);
        d->write(kCluster / 2, a);
        d->write(5 << 20, pattern(4096, 9));
        LayerExtent e = d->layerStatus(5 << 20, 4096);
        EXPECT_EQ(e.kind, Allocation::Data);
        ASSERT_TRUE(e.hostOffset);
        EXPECT_EQ(*e.hostOffset, 5u << 20);
        EXPECT_EQ(d->dataFilename(), raw);
    }
    std::vector<uint8_t> disk = readFile(raw);
    ASSERT_EQ(disk.size(), 8u << 20);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), disk.begin() + kCluster / 2));
    EXPECT_EQ(std::vector<uint8_t>(disk.begin(), disk.begin() + kCluster / 2),
              std::vector<uint8_t>(kCluster / 2, 0));
    // Only the one L2 table was added to the metadata file.
    EXPECT_LE(fileSize(img), std::max<uint64_t>(metaBefore, 5 * kCluster));
    auto d = openRo(img);
    std::vector<uint8_t> back(a.size());
    d->read(kCluster / 2, back);
    EXPECT_EQ(back, a);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 0u);
    EXPECT_EQ(r.leaks, 0u);
    EXPECT_EQ(r.allocatedClusters, 5u); // clusters 0..3 and 80
}

TEST_F(Qcow2DataFile, GuestClusterZeroAtHostOffsetZeroIsData) {
    create(1 << 20, false);
    {
        auto d = openRw(img);
        d->write(0, pattern(512, 3));
    }
    EXPECT_EQ(l2Entry(0), 0x8000000000000000ull); // offset 0 + COPIED
    auto d = openRo(img);
    EXPECT_EQ(d->layerStatus(0, kCluster).kind, Allocation::Data);
    std::vector<uint8_t> b(512);
    d->read(0, b);
    EXPECT_EQ(b, pattern(512, 3));
}

TEST_F(Qcow2DataFile, DiscardAndZeroesAsQemu) {
    create(2 << 20, false);
    auto d = openRw(img);
    d->write(0, pattern(1 << 20, 5));
    d->discard(kCluster, kCluster);
    d->writeZeroes(2 * kCluster, kCluster, ZeroNone);
    d->writeZeroes(3 * kCluster, kCluster, ZeroMayUnmap);
    d->flush();                // changed L2 entries reach the file at a flush (or close)
    EXPECT_EQ(l2Entry(1), 1u); // zero, no offset
    EXPECT_EQ(l2Entry(2), 0x8000000000000000ull | 2 * kCluster | 1); // zero, allocated
    EXPECT_EQ(l2Entry(3), 1u);
    std::vector<uint8_t> z(kCluster);
    d->read(kCluster, z);
    EXPECT_EQ(z, std::vector<uint8_t>(kCluster, 0));
    d->read(2 * kCluster, z);
    EXPECT_EQ(z, std::vector<uint8_t>(kCluster, 0));
    d.reset();
    // Without the raw flag the data file keeps the old bytes of an allocated zero cluster
    // and loses those of a discarded one.
    std::vector<uint8_t> disk = readFile(raw);
    std::vector<uint8_t> orig = pattern(1 << 20, 5);
    EXPECT_TRUE(std::all_of(disk.begin() + kCluster, disk.begin() + 2 * kCluster,
                            [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::equal(disk.begin() + 2 * kCluster, disk.begin() + 3 * kCluster,
                           orig.begin() + 2 * kCluster));
    EXPECT_EQ(checkImage(img, "qcow2", RepairMode::None).corruptions, 0u);
}

TEST_F(Qcow2DataFile, RawFlagMapsTheWholeDiskAndKeepsItRaw) {
    create(1 << 20, true);
    for (uint64_t i = 0; i < 16; ++i)
        EXPECT_EQ(l2Entry(i), 0x8000000000000000ull | (i * kCluster)) << i;
    auto d = openRw(img);
    LayerExtent e = d->layerStatus(0, 1 << 20);
    EXPECT_EQ(e.kind, Allocation::Data);
    EXPECT_EQ(e.length, 1u << 20);
    d->write(0, pattern(1 << 20, 11));
    d->writeZeroes(kCluster, kCluster, ZeroNone);
    d->discard(4 * kCluster, kCluster);
    d.reset();
    std::vector<uint8_t> expect = pattern(1 << 20, 11);
    std::fill(expect.begin() + kCluster, expect.begin() + 2 * kCluster, 0);
    std::fill(expect.begin() + 4 * kCluster, expect.begin() + 5 * kCluster, 0);
    EXPECT_EQ(readFile(raw), expect); // the data file alone is the disk
    auto r = openRo(img);
    EXPECT_EQ(readAll(*r), expect);
    ImageDescription desc;
    r->describe(desc);
    ASSERT_TRUE(desc.qcow2);
    EXPECT_EQ(desc.qcow2->dataFile, std::optional<std::string>(raw));
    EXPECT_TRUE(desc.qcow2->externalDataFile);
    EXPECT_TRUE(desc.qcow2->dataFileRaw);
    // Opening read-write keeps the raw flag (an autoclear bit).
    EXPECT_EQ(readFile(img)[95] & 2, 2);
}

TEST_F(Qcow2DataFile, ExistingDataFileIsKeptAndGrown) {
    std::vector<uint8_t> old = pattern(300000, 13);
    {
        HostFile f(raw, HostFile::Mode::Create);
        f.write(0, old);
    }
    create(1 << 20, true);
    EXPECT_EQ(fileSize(raw), 1u << 20);
    auto d = openRo(img);
    std::vector<uint8_t> b(old.size());
    d->read(0, b);
    EXPECT_EQ(b, old);
    std::vector<uint8_t> tail((1 << 20) - old.size());
    d->read(old.size(), tail);
    EXPECT_TRUE(std::all_of(tail.begin(), tail.end(), [](uint8_t x) { return x == 0; }));
}

TEST_F(Qcow2DataFile, ExistingDataFileIsMadeAnewWithoutTheRawFlag) {
    {
        HostFile f(raw, HostFile::Mode::Create);
        f.write(0, pattern(300000, 13));
        f.truncate(4 << 20);
    }
    create(1 << 20, false);
    EXPECT_EQ(fileSize(raw), 1u << 20); // as qemu-img: emptied, then sized
    std::vector<uint8_t> disk = readFile(raw);
    EXPECT_TRUE(std::all_of(disk.begin(), disk.end(), [](uint8_t x) { return x == 0; }));
}

TEST_F(Qcow2DataFile, ExistingRawDiskIsCutToTheVirtualSize) {
    std::vector<uint8_t> old = pattern(2 << 20, 14);
    {
        HostFile f(raw, HostFile::Mode::Create);
        f.write(0, old);
    }
    create(1 << 20, true);
    EXPECT_EQ(fileSize(raw), 1u << 20);
    auto d = openRo(img);
    std::vector<uint8_t> b(1 << 20);
    d->read(0, b);
    EXPECT_TRUE(std::equal(b.begin(), b.end(), old.begin()));
}

// QEMU creates and opens a relative data file name from the working directory, not the
// image's; one recorded relative name that is only beside the image is found there too.
TEST_F(Qcow2DataFile, RelativeNameIsTheWorkingDirectorys) {
    const std::string cwd = tmp.path("cwd"), sub = tmp.path("sub");
    ASSERT_EQ(::mkdir(cwd.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
    char before[4096];
    ASSERT_NE(::getcwd(before, sizeof before), nullptr);
    ASSERT_EQ(::chdir(cwd.c_str()), 0);
    img = sub + "/meta.qcow2";
    create(1 << 20, false, "disk.raw");
    EXPECT_TRUE(exists(cwd + "/disk.raw"));
    EXPECT_FALSE(exists(sub + "/disk.raw"));
    {
        auto d = openRw(img);
        d->write(kCluster, pattern(1000, 2));
    }
    std::vector<uint8_t> disk = readFile(cwd + "/disk.raw");
    EXPECT_TRUE(std::equal(disk.begin() + kCluster, disk.begin() + kCluster + 1000,
                           pattern(1000, 2).begin()));
    // Moved beside the image and opened from elsewhere: found there.
    ASSERT_EQ(::rename((cwd + "/disk.raw").c_str(), (sub + "/disk.raw").c_str()), 0);
    ASSERT_EQ(::chdir(tmp.path("").c_str()), 0);
    {
        auto d = openRo(img);
        std::vector<uint8_t> b(1000);
        d->read(kCluster, b);
        EXPECT_EQ(b, pattern(1000, 2));
    }
    ASSERT_EQ(::chdir(before), 0);
}

TEST_F(Qcow2DataFile, PersistentBitmapRecordsWritesToTheDataFile) {
    create(4 << 20, true);
    {
        auto d = openRw(img);
        BitmapAction add;
        add.name = "backup";
        std::vector<BitmapAction> actions{add};
        ASSERT_NE(d->bitmaps(), nullptr);
        d->bitmaps()->apply(actions);
    }
    {
        auto d = openRw(img);
        d->write(3 * kCluster + 10, pattern(100, 1));
        d->writeZeroes(2 << 20, kCluster, ZeroNone);
    }
    auto d = openRo(img);
    auto bm = d->bitmaps()->usable("backup");
    auto ext = bm->extents(0, 4 << 20, 16);
    uint64_t dirty = 0;
    for (const auto& e : ext)
        if (e.dirty)
            dirty += e.length;
    EXPECT_EQ(dirty, 2 * kCluster);
    EXPECT_TRUE(bm->test(3 * kCluster));
    EXPECT_TRUE(bm->test(2 << 20));
    EXPECT_FALSE(bm->test(0));
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions + r.leaks, 0u);
}

TEST_F(Qcow2DataFile, ResizeGrowsAndShrinksTheDataFile) {
    create(1 << 20, true);
    {
        auto d = openRw(img);
        d->write(0, pattern(1 << 20, 4));
        d->truncate(2 << 20);
        EXPECT_EQ(d->layerStatus(1 << 20, 1 << 20).kind, Allocation::Data);
        std::vector<uint8_t> grown(1 << 20);
        d->read(1 << 20, grown);
        EXPECT_EQ(grown, std::vector<uint8_t>(1 << 20, 0));
    }
    EXPECT_EQ(fileSize(raw), 2u << 20);
    {
        auto d = openRw(img);
        d->truncate(512 << 10);
    }
    EXPECT_EQ(fileSize(raw), 512u << 10);
    auto d = openRo(img);
    EXPECT_EQ(d->size(), 512u << 10);
    std::vector<uint8_t> expect = pattern(1 << 20, 4);
    expect.resize(512 << 10);
    EXPECT_EQ(readAll(*d), expect);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions + r.leaks, 0u);
}

// As QEMU: the format can compress (convert -c and the compress filter accept it), but each
// compressed write to an image with a data file fails with ENOTSUP.
TEST_F(Qcow2DataFile, CompressedWritesAreRefused) {
    create(1 << 20, false);
    auto d = openRw(img);
    EXPECT_TRUE(d->supportsCompression());
    try {
        d->writeCompressed(0, pattern(kCluster, 1));
        FAIL() << "compressed write accepted";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), ENOTSUP);
        EXPECT_NE(std::string(e.what()).find("external data file"), std::string::npos);
    }
}

TEST_F(Qcow2DataFile, CreateOptionErrors) {
    CreateOptions o;
    o.format = "qcow2";
    o.size = 1 << 20;
    o.sizeGiven = true;
    o.dataFileRaw = true;
    EXPECT_NE(createError(o).find("data-file-raw requires data-file"), std::string::npos);
    o.dataFile = "x.raw";
    o.compat = "0.10";
    o.dataFileRaw = false;
    EXPECT_NE(createError(o).find("compatibility level 1.1"), std::string::npos);
    o.compat = "1.1";
    o.dataFileRaw = true;
    o.backingFile = "b.qcow2";
    EXPECT_NE(createError(o).find("Backing file and data-file-raw"), std::string::npos);
    EXPECT_FALSE(exists(tmp.path("x.raw")));
}

TEST_F(Qcow2DataFile, RebaseOntoABackingFileIsRefusedForARawDataFile) {
    create(1 << 20, true);
    std::vector<uint8_t> before = readFile(img);
    EXPECT_THROW(Qcow2Image::setBackingLink(img, "base.qcow2", "qcow2"), BlockError);
    EXPECT_EQ(readFile(img), before);
}

// ---- hostile input ----

TEST_F(Qcow2DataFile, MissingDataFileIsAClearError) {
    create(1 << 20, true); // every cluster mapped to the data file
    ASSERT_EQ(::unlink(raw.c_str()), 0);
    std::string err = readError();
    EXPECT_NE(err.find("Could not open '" + raw + "': No such file"), std::string::npos) << err;
    EXPECT_NE(err.find("disk.raw"), std::string::npos) << err;
    // Metadata alone (what info needs) still opens.
    OpenOptions o;
    o.openDataFile = false;
    auto d = openImage(img, o);
    ImageDescription desc;
    d->describe(desc);
    EXPECT_TRUE(desc.qcow2->externalDataFile);
    std::vector<uint8_t> b(512);
    EXPECT_THROW(d->read(0, b), BlockError); // guest data needs the data file
    d.reset();
    // Read-write without the data file: every change fails before the metadata is touched.
    std::vector<uint8_t> before = readFile(img);
    o.readOnly = false;
    auto w = openImage(img, o);
    EXPECT_THROW(w->writeZeroes(0, kCluster, ZeroNone), BlockError);
    EXPECT_THROW(w->discard(0, kCluster), BlockError);
    EXPECT_THROW(w->write(0, b), BlockError);
    EXPECT_THROW(w->truncate(2 << 20), BlockError);
    w.reset();
    EXPECT_EQ(readFile(img), before);
}

TEST_F(Qcow2DataFile, FeatureBitWithoutExtensionIsRefused) {
    createQcow2(img, 1 << 20);
    setField(72, 4, 8);
    std::string err = readError();
    EXPECT_NE(err.find("'data-file' is required for this image"), std::string::npos) << err;
    EXPECT_NE(err.find(img), std::string::npos) << err;
    EXPECT_THROW(checkImage(img, "qcow2", RepairMode::None), BlockError);
}

TEST_F(Qcow2DataFile, RawFlagWithoutDataFileIsRefused) {
    createQcow2(img, 1 << 20);
    setField(88, 2, 8);
    std::string err = readError();
    EXPECT_NE(err.find("data-file-raw requires a data file"), std::string::npos) << err;
}

TEST_F(Qcow2DataFile, ExtensionWithoutFeatureBitIsIgnoredAsQemuDoes) {
    create(1 << 20, false);
    {
        auto d = openRw(img);
        d->write(0, pattern(kCluster, 6));
    }
    setField(72, 0, 8); // data now "lives" in the image file, where nothing was written
    auto d = openRo(img);
    ImageDescription desc;
    d->describe(desc);
    EXPECT_EQ(desc.qcow2->dataFile, std::optional<std::string>(raw));
    EXPECT_FALSE(desc.qcow2->externalDataFile);
    EXPECT_EQ(d->dataFilename(), img);
    // Cluster 0 at host offset 0 without the feature bit is simply unallocated.
    EXPECT_EQ(d->layerStatus(0, kCluster).kind, Allocation::Unallocated);
}

TEST_F(Qcow2DataFile, HostOffsetOtherThanGuestOffsetIsCorruption) {
    create(1 << 20, false);
    {
        auto d = openRw(img);
        d->write(kCluster, pattern(kCluster, 6));
    }
    std::vector<uint8_t> f = readFile(img);
    // L2 table is the fifth cluster; entry 1 points at host cluster 5 instead of 1.
    std::vector<uint8_t> e(8);
    putBe(e, 0, 0x8000000000000000ull | 5 * kCluster, 8);
    writeFileBytes(img, 4 * kCluster + 8, e);
    std::string err = readError();
    EXPECT_NE(err.find("must be equal"), std::string::npos) << err;
    EXPECT_NE(err.find(img), std::string::npos) << err;
}

TEST_F(Qcow2DataFile, CompressedEntryIsCorruption) {
    create(1 << 20, false);
    {
        auto d = openRw(img);
        d->write(kCluster, pattern(kCluster, 6));
    }
    std::vector<uint8_t> e(8);
    putBe(e, 0, 0x4000000000500000ull, 8);
    writeFileBytes(img, 4 * kCluster + 8, e);
    std::string err = readError();
    EXPECT_NE(err.find("compressed cluster"), std::string::npos) << err;
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 1u);
    ASSERT_FALSE(r.messages.empty());
    EXPECT_EQ(r.messages[0], "ERROR compressed cluster 1 with data file, entry=0x4000000000500000");
}

TEST_F(Qcow2DataFile, CheckRepairsMissingCopiedFlagWithoutTouchingRefcounts) {
    create(1 << 20, false);
    {
        auto d = openRw(img);
        d->write(kCluster, pattern(kCluster, 6));
    }
    std::vector<uint8_t> e(8);
    putBe(e, 0, kCluster, 8); // COPIED cleared
    writeFileBytes(img, 4 * kCluster + 8, e);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 1u);
    EXPECT_EQ(r.leaks, 0u);
    r = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(r.corruptionsFixed, 1u);
    r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions + r.leaks, 0u);
    EXPECT_EQ(l2Entry(1), 0x8000000000000000ull | kCluster);
}

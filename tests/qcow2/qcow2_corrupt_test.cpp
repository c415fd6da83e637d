// Hand-made corrupt and unusual qcow2 headers: every bad field gives a precise BlockError,
// never a crash or a huge allocation; feature bits and extensions are handled like QEMU.
#include "TestSupport.h"
#include "block/ImageCheck.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace e2kvm::block;
using namespace e2kvm::block::test;

namespace {

class Qcow2Corrupt : public ::testing::Test {
protected:
    TempDir tmp;
    std::string img = tmp.path("c.qcow2");
    void SetUp() override {
        createQcow2(img, 1 << 30);
        auto d = openRw(img);
        d->write(0, pattern(200000, 1));
    }
    void setField(size_t off, uint64_t v, int bytes) {
        std::vector<uint8_t> b(static_cast<size_t>(bytes), 0);
        putBe(b, 0, v, bytes);
        writeFileBytes(img, off, b);
    }
    std::string openError(bool readOnly = true) {
        try {
            OpenOptions o;
            o.readOnly = readOnly;
            o.format = "qcow2";
            auto d = openImage(img, o);
            std::vector<uint8_t> buf(1 << 20);
            d->read(0, buf);
        } catch (const BlockError& e) {
            return e.what();
        }
        return "";
    }
    void expectOpenError(const std::string& fragment, bool readOnly = true) {
        SCOPED_TRACE(fragment);
        std::string err = openError(readOnly);
        EXPECT_NE(err.find(fragment), std::string::npos) << "error was: '" << err << "'";
        EXPECT_NE(err.find(img), std::string::npos) << "error does not name the file: " << err;
    }
};

} // namespace

TEST_F(Qcow2Corrupt, BadMagicAndVersion) {
    setField(0, 0x514649fc, 4);
    expectOpenError("not in qcow2 format");
    setField(0, 0x514649fb, 4);
    setField(4, 4, 4);
    expectOpenError("Unsupported qcow2 version 4");
}

TEST_F(Qcow2Corrupt, BadClusterBits) {
    setField(20, 8, 4);
    expectOpenError("Unsupported cluster size: 2^8");
    setField(20, 22, 4);
    expectOpenError("Unsupported cluster size: 2^22");
}

TEST_F(Qcow2Corrupt, BadHeaderLengthAndRefcountOrder) {
    setField(100, 100, 4);
    expectOpenError("header too short");
    setField(100, 112, 4);
    setField(96, 7, 4);
    expectOpenError("Reference count entry width too large");
}

TEST_F(Qcow2Corrupt, BadL1Table) {
    setField(36, 0x10000000, 4);
    expectOpenError("Active L1 table too large");
    setField(36, 0, 4);
    expectOpenError("L1 table is too small");
    setField(36, 2, 4);
    setField(40, 0x30200, 8);
    expectOpenError("Active L1 table offset invalid");
    setField(40, 0x7000000000, 8);
    expectOpenError("L1 table at 0x7000000000 is past end of file");
    setField(24, 1ull << 62, 8);
    expectOpenError("Image is too big");
}

TEST_F(Qcow2Corrupt, BadRefcountTable) {
    setField(56, 0x100000, 4);
    expectOpenError("Reference count table too large");
    setField(56, 1, 4);
    setField(48, 0x10000000, 8);
    expectOpenError("refcount table at 0x10000000 is past end of file");
}

TEST_F(Qcow2Corrupt, BadBackingNameAndExtensions) {
    setField(8, 0x200, 8);
    setField(16, 2000, 4);
    expectOpenError("Backing file name too long");
    setField(8, 0x20000, 8); // past the first cluster
    setField(16, 10, 4);
    expectOpenError("Invalid backing file offset");
    setField(8, 0, 8);
    setField(16, 0, 4);
    setField(0x74, 0x7fffffff, 4); // length of the feature table extension
    expectOpenError("Header extension too large");
}

TEST_F(Qcow2Corrupt, BadSnapshotTable) {
    setField(60, 70000, 4);
    setField(64, 0x10000, 8);
    expectOpenError("Snapshot table too large");
    setField(60, 3, 4);
    setField(64, 0x8000000000000000, 8); // aligned, but past int64
    expectOpenError("Snapshot table offset invalid");
    setField(64, 0x10001, 8);
    expectOpenError("Snapshot table offset invalid");
    setField(60, 0, 4); // QEMU checks the offset even without snapshots
    expectOpenError("Snapshot table offset invalid");
}

TEST_F(Qcow2Corrupt, UnknownIncompatibleFeatureIsNamed) {
    // Turn the last feature-table entry into a named unknown incompatible bit 10.
    std::vector<uint8_t> entry(48, 0);
    entry[0] = 0;
    entry[1] = 10;
    std::memcpy(&entry[2], "frobnication", 12);
    writeFileBytes(img, 0x78 + 7 * 48, entry);
    setField(72, 1ull << 10, 8);
    expectOpenError("Unsupported qcow2 feature(s): frobnication");
    setField(72, 1ull << 40, 8);
    expectOpenError("Unknown incompatible feature: 10000000000");
    // Extended L2 entries are supported; with 16-byte entries an L2 table covers half as
    // much, so this image's L1 table no longer covers its disk (QEMU's words).
    setField(72, 1ull << 4, 8);
    expectOpenError("L1 table is too small");
    setField(72, 1ull << 2, 8); // the data file bit without a name: QEMU's words
    expectOpenError("'data-file' is required for this image");
}

TEST_F(Qcow2Corrupt, CorruptBitAllowsReadOnlyOnly) {
    setField(72, 2, 8);
    EXPECT_EQ(openError(true), "");
    expectOpenError("Image is corrupt; cannot be opened read/write", false);
}

TEST_F(Qcow2Corrupt, BadL2AndDataEntriesFailReadsCleanly) {
    // L1 entry 0 -> L2 table at an unaligned offset.
    setField(0x30000, 0x8000000000040200ull, 8);
    expectOpenError("unaligned");
    // L2 table past the end of the file.
    setField(0x30000, 0x8000000100000000ull, 8);
    expectOpenError("past end of file");
    // A data cluster at an unaligned host offset.
    setField(0x30000, 0x8000000000040000ull, 8);
    setField(0x40000, 0x8000000000050200ull, 8);
    expectOpenError("Cluster allocation offset 0x50200 unaligned (L2 offset: 0x40000");
    // A data cluster far past the end of the file: an error, not zeros or a huge sparse file.
    setField(0x40000, 0x8000010000000000ull, 8);
    expectOpenError("past end of file");
    expectOpenError("past end of file", false);
    // A compressed cluster whose data is garbage.
    setField(0x40000, (1ull << 62) | 0x30000, 8);
    expectOpenError("is corrupt");
}

TEST_F(Qcow2Corrupt, UnknownAutoclearBitsClearedAndExtensionsKept) {
    // Put an unknown extension before the end marker (replacing the feature table).
    std::vector<uint8_t> ext(16, 0);
    putBe(ext, 0, 0x12345678, 4);
    putBe(ext, 4, 5, 4);
    std::memcpy(&ext[8], "hello", 5);
    std::vector<uint8_t> zeros(0x200, 0);
    writeFileBytes(img, 0x70, zeros);
    writeFileBytes(img, 0x70, ext);
    // Unknown bits 63 and 2 (bit 1, raw external data, without a data file is an error).
    setField(88, 0x8000000000000004ull, 8);
    openRo(img).reset();
    auto f = readFile(img);
    EXPECT_EQ(f[88], 0x80); // read-only open changes nothing
    openRw(img).reset();    // read-write open rewrites the header
    f = readFile(img);
    for (int i = 88; i < 96; ++i)
        EXPECT_EQ(f[size_t(i)], 0) << i;
    bool found = false;
    for (size_t i = 0x70; i + 13 < 0x1000; i += 8)
        if (std::memcmp(&f[i], ext.data(), 13) == 0)
            found = true;
    EXPECT_TRUE(found) << "unknown header extension lost";
    std::vector<uint8_t> buf(200000);
    openRo(img)->read(0, buf);
    EXPECT_TRUE(buf == pattern(200000, 1));
}

TEST_F(Qcow2Corrupt, DirtyBitRebuildsRefcountsOnReadWriteOpen) {
    setField(80, 1, 8); // lazy refcounts
    setField(72, 1, 8); // dirty
    // Stale refcounts as lazy refcounts leave them: cluster 5 (data) has refcount 0.
    setField(0x20000 + 5 * 2, 0, 2);
    EXPECT_GT(checkImage(img, "qcow2", RepairMode::None).corruptions, 0u);
    auto d = openRw(img);
    std::vector<uint8_t> buf(200000);
    d->read(0, buf);
    EXPECT_TRUE(buf == pattern(200000, 1));
    d->write(1 << 20, pattern(70000, 2));
    d.reset();
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 0u);
    EXPECT_EQ(r.leaks, 0u);
    std::vector<uint8_t> hdr(112);
    std::ifstream(img, std::ios::binary).read(reinterpret_cast<char*>(hdr.data()), 112);
    EXPECT_EQ(hdr[79], 0); // dirty bit cleared
}

TEST_F(Qcow2Corrupt, TruncatedFile) {
    std::string err;
    run("truncate -s 196616 '" + img + "'"); // half of the L1 table is gone
    expectOpenError("L1 table at 0x30000 is past end of file");
    run("truncate -s 100 '" + img + "'");
    expectOpenError("header too short");
    run("truncate -s 50 '" + img + "'");
    expectOpenError("qcow2");
}

TEST_F(Qcow2Corrupt, WritesNeverOverwriteMetadata) {
    // Guest cluster 0 mapped (COPIED) onto the L1 table's own cluster.
    setField(0x40000, 0x8000000000030000ull, 8);
    {
        auto d = openRw(img);
        try {
            d->write(0, pattern(512, 7));
            FAIL() << "write over the L1 table was allowed";
        } catch (const BlockError& e) {
            EXPECT_NE(std::string(e.what()).find("Preventing invalid write on metadata "
                                                 "(overlaps with active L1 table)"),
                      std::string::npos)
                << e.what();
        }
        // As QEMU's driver, it serves nothing more once it found the image corrupt.
        std::vector<uint8_t> sector(512);
        try {
            d->read(0, sector);
            FAIL() << "a read after the corruption was served";
        } catch (const BlockError& e) {
            EXPECT_EQ(e.errnoValue(), ENOMEDIUM) << e.what();
        }
    }
    std::vector<uint8_t> l1(8);
    std::ifstream(img, std::ios::binary).seekg(0x30000).read(reinterpret_cast<char*>(l1.data()), 8);
    EXPECT_EQ(l1[5], 0x04); // L1 entry intact
    std::vector<uint8_t> hdr(80);
    std::ifstream(img, std::ios::binary).read(reinterpret_cast<char*>(hdr.data()), 80);
    EXPECT_EQ(hdr[79], 0x02);                    // marked corrupt
    setField(72, 0, 8);                          // (as check -r all would after the repair)
    setField(0x40000, 0x8000000000050000ull, 8); // restore
    setField(0x20000 + 4 * 2, 0, 2);             // L2 table (cluster 4) now looks free
    auto d = openRw(img);
    std::vector<uint8_t> buf(4096);
    d->read(0, buf); // loads the L2 table into the cache
    EXPECT_THROW(d->write(10 << 20, pattern(65536, 3)), BlockError);
}

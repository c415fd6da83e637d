// checkImage on qcow2: leaks, corruptions, overlapping metadata, repair, and crash safety
// (SIGKILL during writes leaves at worst leaked clusters).
#include "TestSupport.h"
#include "block/ImageCheck.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace e2kvm::block;
using namespace e2kvm::block::test;

namespace {

bool hasMessage(const CheckResult& r, const std::string& m) {
    return std::find(r.messages.begin(), r.messages.end(), m) != r.messages.end();
}

class Qcow2Check : public ::testing::Test {
protected:
    TempDir tmp;
    std::string img = tmp.path("k.qcow2");
    void SetUp() override {
        createQcow2(img, 64 << 20);
        auto d = openRw(img);
        d->write(0, pattern(1 << 20, 1)); // L2 at cluster 4, data at clusters 5..20
    }
    void setRefcount(uint64_t cluster, uint16_t v) {
        std::vector<uint8_t> b(2, 0);
        putBe(b, 0, v, 2);
        writeFileBytes(img, 0x20000 + cluster * 2, b);
    }
};

} // namespace

TEST_F(Qcow2Check, CleanImageStatistics) {
    CheckResult r = checkImage(img, "", RepairMode::None);
    EXPECT_EQ(r.corruptions + r.leaks + r.checkErrors, 0u);
    EXPECT_EQ(r.totalClusters, 1024u);
    EXPECT_EQ(r.allocatedClusters, 16u);
    EXPECT_EQ(r.fragmentedClusters, 0u);
    EXPECT_EQ(r.imageEndOffset, 21u * 65536);
}

TEST_F(Qcow2Check, LeaksFoundAndRepaired) {
    run("truncate -s 4M '" + img + "'");
    setRefcount(30, 1);
    setRefcount(31, 2);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.leaks, 2u);
    EXPECT_EQ(r.corruptions, 0u);
    EXPECT_TRUE(hasMessage(r, "Leaked cluster 30 refcount=1 reference=0"));
    EXPECT_TRUE(hasMessage(r, "Leaked cluster 31 refcount=2 reference=0"));
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::Leaks);
    EXPECT_EQ(fixed.leaksFixed, 2u);
    EXPECT_EQ(fixed.leaks, 0u);
    EXPECT_TRUE(hasMessage(fixed, "Repairing cluster 30 refcount=1 reference=0"));
    CheckResult again = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(again.leaks + again.corruptions, 0u);
}

TEST_F(Qcow2Check, CorruptionFoundAndRepaired) {
    setRefcount(7, 0); // data cluster 7 is referenced
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 2u); // the refcount and the COPIED flag that no longer matches
    EXPECT_TRUE(hasMessage(r, "ERROR cluster 7 refcount=0 reference=1"));
    EXPECT_TRUE(
        hasMessage(r, "ERROR OFLAG_COPIED data cluster: l2_entry=8000000000070000 refcount=0"));
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_GT(fixed.corruptionsFixed, 0u);
    CheckResult again = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(again.leaks + again.corruptions, 0u);
    std::vector<uint8_t> buf(1 << 20);
    openRo(img)->read(0, buf);
    EXPECT_TRUE(buf == pattern(1 << 20, 1));
}

TEST_F(Qcow2Check, OverlappingMetadataIsACorruption) {
    // Make guest cluster 16 point at the L1 table's cluster (3).
    std::vector<uint8_t> e(8, 0);
    putBe(e, 0, 0x8000000000030000ull, 8);
    writeFileBytes(img, 0x40000 + 16 * 8, e);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_TRUE(hasMessage(r, "ERROR cluster 3 refcount=1 reference=2")) << r.messages.size();
    EXPECT_GT(r.corruptions, 0u);
    EXPECT_TRUE(hasMessage(r, "Leaked cluster 21 refcount=0 reference=0") == false);
}

// As QEMU (iotest 060): reading the refcounts meets the unaligned block, which a plain check
// reports as a corruption; a repair marks the image corrupt there (the driver is detached), so
// its fixes after the rebuild stay unwritten and the double check fails with ENOMEDIUM; a
// second repair frees the old refcount table, which the first one leaked.
TEST_F(Qcow2Check, BadRefcountBlockEntry) {
    std::vector<uint8_t> e(8, 0);
    putBe(e, 0, 0x2a00, 8);
    writeFileBytes(img, 0x10000, e);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_TRUE(hasMessage(
        r, "ERROR refcount block 0 is not cluster aligned; refcount table entry corrupted"));
    EXPECT_TRUE(hasMessage(r, "qcow2: Image is corrupt: Refblock offset 0x2a00 unaligned "
                              "(reftable index: 0); further non-fatal corruption events will "
                              "be suppressed"));
    EXPECT_GT(r.corruptions, 0u);
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All); // rebuilds the structure
    EXPECT_GT(fixed.corruptionsFixed, 0u);
    EXPECT_TRUE(fixed.detached);
    EXPECT_EQ(fixed.recheckErrno, ENOMEDIUM);
    CheckResult leak = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(leak.leaksFixed, 1u);
    EXPECT_TRUE(hasMessage(leak, "Repairing cluster 1 refcount=1 reference=0"));
    CheckResult again = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(again.leaks + again.corruptions + again.checkErrors, 0u);
    for (const auto& m : again.messages)
        ADD_FAILURE() << m;
}

// As QEMU: the rebuilt structure may not be written over an old refcount block, even an
// unaligned one no reference counts; the repair fails there.
TEST_F(Qcow2Check, RebuildOverUnalignedRefcountBlockFails) {
    std::vector<uint8_t> e(8, 0);
    putBe(e, 0, 0x20200, 8); // inside cluster 2, where the rebuild puts the new block
    writeFileBytes(img, 0x10000, e);
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(fixed.abortErrno, EIO);
    EXPECT_TRUE(hasMessage(fixed, std::string(1, CheckResult::kProgramNamePrefix) +
                                      "ERROR writing refblock: Input/output error"));
}

// Reserved bits, references past the end of the file, the snapshot table and unknown features,
// counted and worded as qemu-img check does.
namespace {

constexpr uint64_t kZeroFlag = 1;

void putEntry(const std::string& path, uint64_t offset, uint64_t value) {
    std::vector<uint8_t> e(8, 0);
    putBe(e, 0, value, 8);
    writeFileBytes(path, offset, e);
}

} // namespace

TEST_F(Qcow2Check, L1EntryWithReservedBits) {
    putEntry(img, 0x30000, 0x8000000000040000ull | (1ull << 58));
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 1u);
    EXPECT_TRUE(hasMessage(r, "ERROR found L1 entry with reserved bits set: 8400000000040000"));
}

TEST_F(Qcow2Check, L2EntryWithReservedBits) {
    putEntry(img, 0x40000 + 3 * 8, 0x8000000000080000ull | 0x100);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 1u);
    EXPECT_TRUE(hasMessage(r, "ERROR found l2 entry with reserved bits set: 8000000000080100"));
    // A repair leaves the entry alone (QEMU does not repair it either) and says so.
    std::vector<uint8_t> before = readFile(img);
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(fixed.corruptions, 1u);
    EXPECT_TRUE(readFile(img) == before);
}

TEST_F(Qcow2Check, MisalignedPreallocatedZeroClusterBecomesPlainZero) {
    putEntry(img, 0x40000 + 2 * 8, 0x8000000000070200ull | kZeroFlag);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_TRUE(hasMessage(
        r,
        "ERROR offset=70200: Preallocated cluster is not properly aligned; L2 entry corrupted."));
    EXPECT_GT(r.corruptions, 0u);
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_TRUE(hasMessage(fixed, "Repairing offset=70200: Preallocated cluster is not properly "
                                  "aligned; L2 entry corrupted."));
    EXPECT_EQ(fixed.corruptions + fixed.leaks + fixed.checkErrors, 0u);
    std::vector<uint8_t> entry = readFile(img);
    EXPECT_EQ(entry[0x40000 + 2 * 8 + 7], 1); // QCOW_OFLAG_ZERO alone
    std::vector<uint8_t> buf(65536);
    openRo(img)->read(2 * 65536, buf);
    EXPECT_TRUE(buf == std::vector<uint8_t>(65536, 0));
}

TEST_F(Qcow2Check, RefcountTableEntryWithReservedBitsIsRebuilt) {
    putEntry(img, 0x10000, 0x20000 | 0x1);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_GT(r.corruptions, 0u);
    EXPECT_TRUE(hasMessage(r, "ERROR refcount table entry 0 has reserved bits set"));
    // -r leaks cannot rebuild: it fails and changes nothing.
    std::vector<uint8_t> before = readFile(img);
    CheckResult leaks = checkImage(img, "qcow2", RepairMode::Leaks);
    EXPECT_NE(leaks.abortErrno, 0);
    EXPECT_TRUE(readFile(img) == before);
    // -r all, as QEMU: the rebuild would put the new block where the entry (its reserved bit
    // masked off) still points, which the overlap check refuses: the image is marked corrupt
    // and the repair fails; the data is untouched.
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(fixed.abortErrno, EIO);
    EXPECT_TRUE(hasMessage(fixed, "qcow2: Marking image as corrupt: Preventing invalid write on "
                                  "metadata (overlaps with refcount block); further corruption "
                                  "events will be suppressed"));
    EXPECT_TRUE(hasMessage(fixed, std::string(1, CheckResult::kProgramNamePrefix) +
                                      "ERROR writing refblock: Input/output error"));
    std::vector<uint8_t> buf(1 << 20);
    openRo(img)->read(0, buf);
    EXPECT_TRUE(buf == pattern(1 << 20, 1));
}

TEST_F(Qcow2Check, DataClusterPastEndOfFile) {
    putEntry(img, 0x40000 + 20 * 8, 0x8000000000000000ull | (1ull << 40));
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(r.corruptions, 2u); // as qemu-img check: the reference and its COPIED flag
    EXPECT_TRUE(hasMessage(r, "ERROR: counting reference for region exceeding the end of the "
                              "file by one cluster or more: offset 0x10000000000 size 0x10000"));
    EXPECT_EQ(r.imageEndOffset, 21u * 65536); // not sized by the bogus reference
}

TEST_F(Qcow2Check, L2TablePastEndOfFileReadsAsZeros) {
    putEntry(img, 0x30000, 0x8000000000000000ull | (64ull << 20));
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    // As qemu-img check: the reference and its COPIED flag (refcount 0); the old L2 table and
    // its 16 data clusters leak.
    EXPECT_EQ(r.corruptions, 2u);
    EXPECT_EQ(r.leaks, 17u);
    EXPECT_TRUE(hasMessage(
        r, "ERROR OFLAG_COPIED L2 cluster: l1_index=0 l1_entry=8000000004000000 refcount=0"));
    EXPECT_EQ(r.checkErrors, 0u);
    EXPECT_EQ(r.abortErrno, 0);
}

TEST_F(Qcow2Check, RefcountTablePastEndOfFileIsACorruption) {
    std::vector<uint8_t> b(8, 0);
    putBe(b, 0, 0x10000000, 8); // refcount table offset, far past the end
    writeFileBytes(img, 48, b);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_GT(r.corruptions, 0u);
    EXPECT_TRUE(hasMessage(r, "ERROR: counting reference for region exceeding the end of the "
                              "file by one cluster or more: offset 0x10000000 size 0x10000"));
}

TEST_F(Qcow2Check, MisalignedSnapshotL1Table) {
    // One snapshot entry in cluster 30 (v3: 16 bytes of extra data), its L1 table misaligned.
    run("truncate -s 2M '" + img + "'");
    std::vector<uint8_t> e(64, 0);
    putBe(e, 0, 0x30200, 8); // l1_table_offset
    putBe(e, 8, 1, 4);       // l1_size
    putBe(e, 12, 1, 2);      // id_str_size
    putBe(e, 14, 1, 2);      // name_size
    putBe(e, 36, 16, 4);     // extra_data_size
    e[56] = '1';
    e[57] = 's';
    writeFileBytes(img, 30 * 65536, e);
    std::vector<uint8_t> h(12, 0);
    putBe(h, 0, 1, 4);             // nb_snapshots
    putBe(h, 4, 30 * 65536ull, 8); // snapshots_offset
    writeFileBytes(img, 60, h);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_TRUE(hasMessage(r, "ERROR snapshot 1 (s) l1_offset=0x30200: L1 table is not cluster "
                              "aligned; snapshot table entry corrupted"));
    EXPECT_GE(r.corruptions, 2u); // that, and the snapshot table's cluster has refcount 0
}

TEST_F(Qcow2Check, SnapshotExtraDataTooLargeStopsTheCheckUnlessRepairing) {
    run("truncate -s 2M '" + img + "'");
    std::vector<uint8_t> e(48, 0);
    putBe(e, 36, 2000, 4); // extra_data_size
    writeFileBytes(img, 30 * 65536, e);
    std::vector<uint8_t> h(12, 0);
    putBe(h, 0, 1, 4);
    putBe(h, 4, 30 * 65536ull, 8);
    writeFileBytes(img, 60, h);
    std::vector<uint8_t> before = readFile(img);
    // A check (or a leak repair) stops, changing nothing, as qemu-img check.
    for (RepairMode mode : {RepairMode::None, RepairMode::Leaks}) {
        CheckResult r = checkImage(img, "qcow2", mode);
        EXPECT_EQ(r.abortErrno, EFBIG);
        EXPECT_EQ(r.checkErrors, 1u);
        EXPECT_TRUE(readFile(img) == before);
    }
    // -r all drops the extra data past 1024 bytes and rewrites the table, as QEMU does.
    CheckResult r = checkImage(img, "qcow2", RepairMode::All);
    EXPECT_EQ(r.abortErrno, 0);
    EXPECT_EQ(r.checkErrors, 0u);
    EXPECT_GE(r.corruptionsFixed, 1u);
    CheckResult again = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(again.abortErrno, 0);
    EXPECT_EQ(again.corruptions, 0u);
}

TEST_F(Qcow2Check, UnknownIncompatibleFeaturesAreNamedAsQemuDoes) {
    std::vector<uint8_t> b(8, 0);
    putBe(b, 0, (1ull << 5) | (1ull << 40), 8);
    writeFileBytes(img, 72, b);
    try {
        checkImage(img, "qcow2", RepairMode::None);
        FAIL() << "expected ImageOpenError";
    } catch (const ImageOpenError& e) {
        // 64 KiB clusters: the image has QEMU's feature table, which names only known bits.
        EXPECT_STREQ(e.what(),
                     "Unsupported qcow2 feature(s): Unknown incompatible feature: 10000000020");
    }
}

TEST_F(Qcow2Check, HeaderEndMarkerLengthMustFit) {
    // The end-of-extensions marker follows the feature table: find it and give it a length.
    std::vector<uint8_t> head = readFile(img);
    size_t pos = 112;
    while (pos + 8 <= 65536) {
        uint32_t type =
            uint32_t(head[pos] << 24 | head[pos + 1] << 16 | head[pos + 2] << 8 | head[pos + 3]);
        uint32_t len = uint32_t(head[pos + 4] << 24 | head[pos + 5] << 16 | head[pos + 6] << 8 |
                                head[pos + 7]);
        if (type == 0)
            break;
        pos += 8 + ((len + 7) & ~7u);
    }
    std::vector<uint8_t> len(4, 0);
    putBe(len, 0, 0x100000, 4);
    writeFileBytes(img, pos + 4, len);
    EXPECT_THROW(checkImage(img, "qcow2", RepairMode::None), ImageOpenError);
}

TEST(Qcow2Crash, SigkillDuringWritesLeavesNoCorruption) {
    for (int round = 0; round < 4; ++round) {
        TempDir t;
        std::string img = t.path("crash.qcow2");
        std::string base = t.path("base.qcow2");
        createQcow2(base, 16 << 20, 4096);
        openRw(base)->write(0, pattern(16 << 20, 3));
        createQcow2(img, 16 << 20, 4096, base, "qcow2");
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            try {
                auto d = openRw(img);
                uint32_t x = uint32_t(round) * 7919u + 1;
                std::vector<uint8_t> data = pattern(256 << 10, 5);
                std::vector<uint8_t> cluster(4096, 'z');
                for (;;) {
                    x = x * 1103515245u + 12345u;
                    uint64_t off = (x >> 8) % ((16 << 20) - (256 << 10));
                    switch ((x >> 4) % 5) {
                    case 0:
                    case 1:
                        d->write(off, std::span(data.data(), 1 + (x >> 12) % (256 << 10)));
                        break;
                    case 2:
                        d->writeZeroes(off, 70000, (x & 1) ? ZeroMayUnmap : ZeroNone);
                        break;
                    case 3:
                        d->discard(off, 100000);
                        break;
                    case 4:
                        d->writeCompressed(off & ~uint64_t(4095), cluster);
                        break;
                    }
                }
            } catch (...) {
                ::_exit(3);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * round));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status)) << "writer stopped early with status " << status;
        CheckResult r = checkImage(img, "qcow2", RepairMode::None);
        EXPECT_EQ(r.corruptions, 0u) << "round " << round;
        EXPECT_EQ(r.checkErrors, 0u);
        for (const auto& m : r.messages)
            if (m.rfind("Leaked", 0) != 0)
                ADD_FAILURE() << m;
        auto d = openRw(img); // still opens, reads and writes
        std::vector<uint8_t> buf(16 << 20);
        d->read(0, buf);
        d->write(0, pattern(4096, 1));
    }
}

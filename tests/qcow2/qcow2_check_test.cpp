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

TEST_F(Qcow2Check, BadRefcountBlockEntry) {
    std::vector<uint8_t> e(8, 0);
    putBe(e, 0, 0x20200, 8);
    writeFileBytes(img, 0x10000, e);
    CheckResult r = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_TRUE(hasMessage(
        r, "ERROR refcount block 0 is not cluster aligned; refcount table entry corrupted"));
    EXPECT_GT(r.corruptions, 0u);
    CheckResult fixed = checkImage(img, "qcow2", RepairMode::All); // rebuilds the structure
    EXPECT_GT(fixed.corruptionsFixed, 0u);
    CheckResult again = checkImage(img, "qcow2", RepairMode::None);
    EXPECT_EQ(again.leaks + again.corruptions + again.checkErrors, 0u);
    for (const auto& m : again.messages)
        ADD_FAILURE() << m;
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

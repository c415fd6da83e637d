// The quorum driver (block/quorum) over in-memory children: writes reach every child, reads
// vote (a corrupted minority is outvoted, and rewritten with rewrite-corrupted; no majority is
// EIO), fifo reads take the first child that works, and QEMU's checks of the settings.
#include "block/BlockError.h"
#include "block/NullImage.h"
#include "block/RawImage.h"
#include "block/quorum/QuorumOpen.h"
#include "block/quorum/QuorumVote.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace e2kvm::block;
using namespace e2kvm::block::quorum;

namespace {

class QuorumTest : public ::testing::Test {
protected:
    void SetUp() override {
        char templ[] = "/tmp/quorum-test-XXXXXX";
        dir_ = ::mkdtemp(templ);
        for (int i = 0; i < 3; ++i) {
            const std::string path = file(i);
            CreateOptions c;
            c.size = 1 << 20;
            createImage(path, c);
        }
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string file(int i) const { return dir_ + "/" + std::to_string(i) + ".raw"; }

    DriverOptions options(int children, int threshold) const {
        DriverOptions o{{"driver", "quorum"}, {"vote-threshold", std::to_string(threshold)}};
        for (int i = 0; i < children; ++i) {
            o["children." + std::to_string(i) + ".driver"] = "raw";
            o["children." + std::to_string(i) + ".file.filename"] = file(i);
        }
        return o;
    }

    void fill(int child, uint8_t pattern, uint64_t offset = 0, size_t length = 4096) {
        RawImage image(file(child), false);
        std::vector<uint8_t> data(length, pattern);
        image.write(offset, data);
    }

    uint8_t firstByte(int child) {
        RawImage image(file(child), true);
        std::vector<uint8_t> data(1);
        image.read(0, data);
        return data[0];
    }

    std::unique_ptr<QuorumImage> open(const DriverOptions& o, bool readOnly = false) {
        OpenOptions open;
        open.readOnly = readOnly;
        return openQuorumNode(o, open);
    }

    std::string dir_;
};

TEST(QuorumVote, MostVotesWinsAndTiesGoToTheLastSeen) {
    Vote<int> v;
    v.count(1, 0);
    v.count(2, 1);
    EXPECT_EQ(v.winner()->value, 2);
    v.count(1, 2);
    EXPECT_EQ(v.winner()->value, 1);
    EXPECT_EQ(v.winner()->voters, (std::vector<size_t>{0, 2}));
}

TEST_F(QuorumTest, WritesReachEveryChild) {
    auto q = open(options(3, 2));
    std::vector<uint8_t> data(4096, 0x32);
    q->write(0, data);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(firstByte(i), 0x32);
    EXPECT_EQ(q->size(), 1u << 20);
    EXPECT_EQ(q->formatName(), "quorum");
}

TEST_F(QuorumTest, MinorityIsOutvotedAndRewrittenOnlyWhenAsked) {
    for (int i = 0; i < 3; ++i)
        fill(i, 0x32);
    fill(1, 0x42);
    std::vector<uint8_t> buf(4096);
    open(options(3, 2), true)->read(0, buf);
    EXPECT_EQ(buf[0], 0x32);
    EXPECT_EQ(firstByte(1), 0x42);
    auto o = options(3, 2);
    o["rewrite-corrupted"] = "on";
    open(o, true)->read(0, buf);
    EXPECT_EQ(buf[4095], 0x32);
    EXPECT_EQ(firstByte(1), 0x32);
}

TEST_F(QuorumTest, NoMajorityIsAnIoError) {
    fill(0, 0x41);
    fill(1, 0x42);
    fill(2, 0x32);
    std::vector<uint8_t> buf(4096);
    try {
        open(options(3, 2), true)->read(0, buf);
        FAIL() << "a read without a quorum succeeded";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EIO);
    }
    // With a threshold of 1 the most recent of the tied versions wins, as in QEMU.
    open(options(3, 1), true)->read(0, buf);
    EXPECT_EQ(buf[0], 0x32);
}

TEST_F(QuorumTest, FifoReadsTheFirstChild) {
    fill(0, 0x11);
    fill(1, 0x22);
    auto o = options(2, 1);
    o["read-pattern"] = "fifo";
    std::vector<uint8_t> buf(4096);
    open(o, true)->read(0, buf);
    EXPECT_EQ(buf[0], 0x11);
}

TEST_F(QuorumTest, SettingsAreCheckedAsQemuChecksThem) {
    auto errorOf = [&](const DriverOptions& o) -> std::string {
        try {
            open(o, true);
        } catch (const BlockError& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(errorOf({{"driver", "quorum"}, {"vote-threshold", "1"}}),
              "Number of provided children must be 1 or more");
    auto o = options(2, 2);
    o.erase("vote-threshold");
    EXPECT_EQ(errorOf(o), "Parameter 'vote-threshold' expects a value >= 1");
    EXPECT_EQ(errorOf(options(2, 3)), "threshold may not exceed children count");
    o = options(3, 2);
    o["blkverify"] = "on";
    EXPECT_EQ(errorOf(o), "blkverify=on can only be set if there are exactly two files and "
                          "vote-threshold is 2");
    o = options(2, 2);
    o["read-pattern"] = "random";
    EXPECT_EQ(errorOf(o), "Please set read-pattern as fifo or quorum");
    o = options(2, 2);
    o["blkverify"] = "on";
    o["rewrite-corrupted"] = "on";
    EXPECT_EQ(errorOf(o), "rewrite-corrupted=on cannot be used with blkverify=on");
    o = options(2, 1);
    o["children.3.driver"] = "raw";
    EXPECT_EQ(errorOf(o), "Option children is not a valid array");
}

TEST_F(QuorumTest, NamedByItsOptions) {
    auto q = open(options(2, 1), true);
    EXPECT_EQ(q->filename().rfind("json:{", 0), 0u) << q->filename();
    EXPECT_NE(q->filename().find("\"driver\": \"quorum\""), std::string::npos) << q->filename();
    EXPECT_NE(q->filename().find(file(1)), std::string::npos) << q->filename();
}

} // namespace

namespace {

// Relative backing names of images named by options (iotest 110) or on a server.
TEST(ResolveBackingPath, JsonAndRemoteNames) {
    EXPECT_EQ(resolveBackingPath(R"(json:{"driver": "qcow2", "file": {"driver": "quorum", )"
                                 R"("vote-threshold": 1, "children": [{"driver": "file", )"
                                 R"("filename": "/a/t.qcow2"}]}})",
                                 "t.qcow2.base"),
              "");
    EXPECT_EQ(resolveBackingPath(R"(json:{"driver": "qcow2", "file": {"driver": "blkdebug", )"
                                 R"("image": {"driver": "file", "filename": "/a/b/t.qcow2"}}})",
                                 "t.qcow2.base"),
              "/a/b/t.qcow2.base");
    EXPECT_EQ(resolveBackingPath(R"(json:{"driver": "qcow2", "file": "/x/t.qcow2"})", "base"),
              "/x/base");
    EXPECT_EQ(resolveBackingPath("ssh://u@h:22/a/t.qcow2", "b.qcow2"), "ssh://u@h:22/a/b.qcow2");
    EXPECT_EQ(resolveBackingPath("ssh://u@h:22/a/t.qcow2?host_key_check=no", "b.qcow2"), "");
    EXPECT_EQ(resolveBackingPath(R"(json:{"driver": "qcow2", "file": {"driver": "ssh", )"
                                 R"("server": {"host": "h", "port": "22"}, "user": "u", )"
                                 R"("path": "/srv/t.qcow2"}})",
                                 "b.qcow2"),
              "ssh://u@h:22/srv/b.qcow2");
    // Absolute names need no directory, whatever the image's name.
    EXPECT_EQ(resolveBackingPath(R"(json:{"driver": "quorum"})", "/abs/b"), "/abs/b");
}

} // namespace

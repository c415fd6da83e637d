// readSegments: how a structured READ reply is cut into data and hole chunks, and which data
// chunks may be sent straight from the image file (sendfile) instead of through memory.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "nbd/BlockStatus.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

using namespace e2kvm;

namespace {

constexpr uint64_t kCluster = 65536;

class ReadSegmentsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("e2kvm-readseg-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Creates t.FORMAT of `size` bytes in the test directory and opens it read-write.
    std::unique_ptr<block::BlockDriver> createWritable(const std::string& format, uint64_t size,
                                                       std::string& path) {
        path = (dir_ / ("t." + format)).string();
        block::CreateOptions o;
        o.format = format;
        o.size = size;
        o.sizeGiven = true;
        block::createImage(path, o);
        block::OpenOptions rw;
        rw.readOnly = false;
        return block::openImage(path, rw);
    }

    // A qcow2 whose cluster 1 was written before cluster 0, so their host clusters are in the
    // opposite order; cluster 2 is never written.
    std::string makeReversedQcow2() {
        std::string path;
        auto img = createWritable("qcow2", 4 * kCluster, path);
        std::vector<uint8_t> b(kCluster, 0xBB), a(kCluster, 0xAA);
        img->write(kCluster, b);
        img->write(0, a);
        img->flush();
        return path;
    }

    static uint8_t hostByte(int fd, uint64_t offset) {
        uint8_t v = 0;
        EXPECT_EQ(pread(fd, &v, 1, off_t(offset)), 1);
        return v;
    }

    std::filesystem::path dir_;
};

} // namespace

TEST_F(ReadSegmentsTest, ReadOnlyQcow2DataIsSentFromItsHostClusters) {
    std::string path = makeReversedQcow2();
    block::OpenOptions ro;
    auto img = block::openImage(path, ro);
    auto segs = nbd::readSegments(*img, 0, 3 * kCluster);
    ASSERT_EQ(segs.size(), 3u);
    // Two data chunks that are not contiguous on the host stay apart.
    for (int i = 0; i < 2; ++i) {
        EXPECT_FALSE(segs[i].zero);
        EXPECT_EQ(segs[i].offset, uint64_t(i) * kCluster);
        EXPECT_EQ(segs[i].length, kCluster);
        ASSERT_GE(segs[i].hostFd, 0);
    }
    EXPECT_GT(segs[0].hostOffset, segs[1].hostOffset);
    EXPECT_EQ(hostByte(segs[0].hostFd, segs[0].hostOffset), 0xAA);
    EXPECT_EQ(hostByte(segs[0].hostFd, segs[0].hostOffset + kCluster - 1), 0xAA);
    EXPECT_EQ(hostByte(segs[1].hostFd, segs[1].hostOffset), 0xBB);
    EXPECT_TRUE(segs[2].zero);
    EXPECT_EQ(segs[2].offset, 2 * kCluster);
}

TEST_F(ReadSegmentsTest, WritableQcow2IsReadThroughTheDriver) {
    // Writable, a discard could free a cluster and a write reuse it between the mapping and
    // the sendfile: data goes through the driver's read, one chunk for both clusters.
    std::string path = makeReversedQcow2();
    block::OpenOptions rw;
    rw.readOnly = false;
    auto img = block::openImage(path, rw);
    auto segs = nbd::readSegments(*img, 0, 3 * kCluster);
    ASSERT_EQ(segs.size(), 2u);
    EXPECT_FALSE(segs[0].zero);
    EXPECT_EQ(segs[0].length, 2 * kCluster);
    EXPECT_EQ(segs[0].hostFd, -1);
    EXPECT_TRUE(segs[1].zero);
}

TEST_F(ReadSegmentsTest, RawDataRunsAreOneHostChunk) {
    std::string path;
    auto img = createWritable("raw", 8 * kCluster, path);
    std::vector<uint8_t> data(2 * kCluster, 0x5A);
    img->write(kCluster, data);
    img->flush();
    auto segs = nbd::readSegments(*img, 0, 4 * kCluster);
    ASSERT_GE(segs.size(), 2u);
    const nbd::ReadSegment* dataSeg = nullptr;
    for (const auto& s : segs)
        if (!s.zero)
            dataSeg = &s;
    ASSERT_TRUE(dataSeg);
    EXPECT_EQ(dataSeg->offset, kCluster);
    EXPECT_EQ(dataSeg->length, 2 * kCluster);
    ASSERT_GE(dataSeg->hostFd, 0);
    EXPECT_EQ(dataSeg->hostOffset, kCluster);
    EXPECT_EQ(hostByte(dataSeg->hostFd, dataSeg->hostOffset), 0x5A);
}

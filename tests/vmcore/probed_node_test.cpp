// BlockNodeTable probes an image's format itself when none is given; a raw node opened that way
// is still a probed raw image (its first sector cannot become a header), one opened with the
// format raw is not restricted.
#include "app/vmcore/BlockNodeTable.h"

#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace e2kvm;
namespace fs = std::filesystem;

namespace {

class ProbedNodeTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/e2kvm-probed-node-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string makeRaw(const std::string& name) {
        block::CreateOptions o;
        o.format = "raw";
        o.size = 1 << 20;
        std::string path = dir_ + "/" + name;
        block::createImage(path, o);
        return path;
    }

    // A first sector that is a qcow2 header (magic, version 3).
    static std::vector<uint8_t> qcow2Sector() {
        std::vector<uint8_t> s(512, 0);
        std::memcpy(s.data(), "QFI\xfb\0\0\0\3", 8);
        return s;
    }

    std::string dir_;
};

} // namespace

TEST_F(ProbedNodeTest, ProbedRawNodeRefusesAHeader) {
    std::string path = makeRaw("probed.raw");
    vm::BlockNodeTable nodes;
    auto node = nodes.open(path, "", false, "disk0");
    ASSERT_EQ(node->format, "raw");
    try {
        node->image->write(0, qcow2Sector());
        FAIL() << "a qcow2 header went into a probed raw node";
    } catch (const block::BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EPERM) << e.what();
    }
    std::vector<uint8_t> data(512, 0x51);
    node->image->write(0, data); // an ordinary first sector is fine
    EXPECT_EQ(block::probeFormat(path), "raw");
}

TEST_F(ProbedNodeTest, RawGivenIsNotRestricted) {
    std::string path = makeRaw("given.raw");
    vm::BlockNodeTable nodes;
    auto node = nodes.open(path, "raw", false, "disk0");
    node->image->write(0, qcow2Sector());
    node->image->flush();
    EXPECT_EQ(block::probeFormat(path), "qcow2");
}

// FuseExport and FuseExportTable: a node read and written through its mounted file, the
// mountpoint rules, growing, and unmounting (skipped where FUSE cannot be mounted).
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/FuseExportTable.h"

#include "block/ImageOpen.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace e2kvm;
namespace fs = std::filesystem;

namespace {

class FuseExportTest : public ::testing::Test {
protected:
    void SetUp() override {
        // (Users other than root mount through the setuid fusermount3: whether they can is
        // found out by mounting.)
        if (access("/dev/fuse", F_OK) != 0)
            GTEST_SKIP() << "no /dev/fuse";
        char tmpl[] = "/tmp/e2kvm-fuse-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        if (!dir_.empty())
            fs::remove_all(dir_);
    }

    std::string makeQcow2(const std::string& name, uint64_t size) {
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = size;
        o.sizeGiven = true;
        std::string path = dir_ + "/" + name;
        block::createImage(path, o);
        return path;
    }
    std::string touch(const std::string& name) {
        std::string path = dir_ + "/" + name;
        std::ofstream(path).flush();
        return path;
    }
    // Adds an export, or skips the test where nothing can be mounted.
    void addOrSkip(vm::FuseExportTable& table, const vm::FuseExportRequest& r) {
        try {
            table.add(r);
        } catch (const std::runtime_error& e) {
            if (std::string(e.what()) == "Failed to mount FUSE session to export")
                GTEST_SKIP() << e.what();
            throw;
        }
    }

    std::string dir_;
};

std::vector<uint8_t> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST_F(FuseExportTest, ReadsTheNodeAndUnmountsOnRemove) {
    std::string img = makeQcow2("a.qcow2", 1 << 20);
    std::string mp = touch("mp");
    vm::BlockNodeTable nodes;
    auto node = nodes.open(img, "qcow2", false, "n");
    std::vector<uint8_t> pattern(4096, 0x5a);
    node->image->write(8192, pattern);
    vm::FuseExportTable table(nodes);
    std::vector<std::string> deleted;
    table.addExportListener([&](const std::string& id) { deleted.push_back(id); });

    addOrSkip(table, {"e", "n", {mp}});
    if (IsSkipped())
        return;
    struct stat st {};
    ASSERT_EQ(stat(mp.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 1 << 20);
    EXPECT_EQ(st.st_mode, mode_t(S_IFREG | 0400));
    std::vector<uint8_t> seen = readFile(mp); // cp-like: reads until a short read
    ASSERT_EQ(seen.size(), size_t(1 << 20));
    EXPECT_EQ(std::vector<uint8_t>(seen.begin() + 8192, seen.begin() + 8192 + 4096), pattern);
    EXPECT_EQ(seen[0], 0);
    // A read-only export cannot be made writable; the node is in use.
    EXPECT_NE(chmod(mp.c_str(), 0600), 0);
    EXPECT_EQ(errno, EROFS);
    EXPECT_THROW(nodes.remove("n"), std::runtime_error);
    // The same path twice; another mountpoint over the very image the node has open.
    try {
        table.add({"e2", "n", {mp}});
        ADD_FAILURE() << "a second export on one mountpoint";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "There already is a FUSE export on '" + mp + "'");
    }
    table.add({"over", "n", {img}});
    ASSERT_EQ(stat(img.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 1 << 20);
    EXPECT_EQ(readFile(img), seen);
    ASSERT_EQ(table.list().size(), 2u);
    EXPECT_EQ(table.list()[0].id, "over"); // the newest first

    EXPECT_TRUE(table.remove("e"));
    EXPECT_FALSE(table.remove("e"));
    ASSERT_EQ(stat(mp.c_str(), &st), 0);
    EXPECT_EQ(st.st_size, 0); // the file under the mount again
    table.removeAll();
    EXPECT_EQ(deleted, (std::vector<std::string>{"e", "over"}));
    EXPECT_TRUE(nodes.remove("n"));
}

TEST_F(FuseExportTest, MountpointMustBeAnExistingRegularFile) {
    std::string img = makeQcow2("a.qcow2", 1 << 20);
    vm::BlockNodeTable nodes;
    nodes.open(img, "qcow2", true, "ro");
    vm::FuseExportTable table(nodes);
    auto message = [&](const vm::FuseExportRequest& r) {
        try {
            table.add(r);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string("added");
    };
    EXPECT_EQ(message({"x", "ro", {dir_ + "/absent"}}),
              "Failed to stat '" + dir_ + "/absent': No such file or directory");
    EXPECT_EQ(message({"x", "ro", {dir_}}), "'" + dir_ + "' is not a regular file");
    EXPECT_EQ(message({"x", "nope", {img}}), "Cannot find device='' nor node-name='nope'");
    vm::FuseExportRequest writable{"x", "ro", {img}};
    writable.options.writable = true;
    EXPECT_EQ(message(writable), "Cannot export read-only node as writable");
    EXPECT_TRUE(table.list().empty());
}

TEST_F(FuseExportTest, WritesLandInTheNodeAndGrowOnlyWhenGrowable) {
    std::string img = makeQcow2("w.qcow2", 64 << 10);
    std::string mp = touch("mp");
    vm::BlockNodeTable nodes;
    auto node = nodes.open(img, "qcow2", false, "w");
    vm::FuseExportTable table(nodes);
    vm::FuseExportRequest r{"w", "w", {mp}};
    r.options.writable = true;
    addOrSkip(table, r);
    if (IsSkipped())
        return;
    int fd = open(mp.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    std::vector<uint8_t> data(512, 0xc3);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), 4096), 512);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), 64 << 10), -1); // past the end
    EXPECT_EQ(errno, EIO);
    close(fd);
    std::vector<uint8_t> back(512);
    node->image->read(4096, back);
    EXPECT_EQ(back, data);
    EXPECT_EQ(truncate(mp.c_str(), 128 << 10), 0);
    EXPECT_EQ(node->image->size(), uint64_t(128 << 10));
    table.remove("w");

    r.options.growable = true;
    table.add(r);
    fd = open(mp.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), 256 << 10), 512);
    close(fd);
    EXPECT_EQ(node->image->size(), uint64_t((256 << 10) + 512));
    node->image->read(256 << 10, back);
    EXPECT_EQ(back, data);
}

} // namespace

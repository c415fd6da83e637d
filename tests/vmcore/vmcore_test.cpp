// BlockNodeTable and NbdExportService: node naming and sharing, busy nodes, export rules.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"

#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace e2kvm;
namespace fs = std::filesystem;

namespace {

class VmCoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/e2kvm-vmcore-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string makeQcow2(const std::string& name, uint64_t size = 4 << 20) {
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = size;
        o.sizeGiven = true;
        std::string path = dir_ + "/" + name;
        block::createImage(path, o);
        return path;
    }

    std::string dir_;
};

TEST_F(VmCoreTest, OpensNamesAndSharesNodes) {
    std::string a = makeQcow2("a.qcow2");
    vm::BlockNodeTable t;
    int changes = 0;
    t.setOnChange([&] { ++changes; });
    auto n = t.open(a, "", false, "disk0");
    EXPECT_EQ(n->name, "disk0");
    EXPECT_EQ(n->format, "qcow2");
    EXPECT_EQ(changes, 1);
    // Same file through another spelling: the same node.
    auto again = t.open(dir_ + "/./a.qcow2", "", true);
    EXPECT_EQ(again, n);
    EXPECT_EQ(t.findByFile(dir_ + "/../" + fs::path(dir_).filename().string() + "/a.qcow2"), n);
    // Generated names look like QEMU's.
    std::string b = makeQcow2("b.qcow2");
    auto g = t.open(b, "qcow2", true);
    EXPECT_EQ(g->name.rfind("#block", 0), 0u);
    EXPECT_EQ(t.list().size(), 2u);
    // A read-only node cannot be reopened writable.
    EXPECT_THROW(t.open(b, "", false), std::runtime_error);
    EXPECT_THROW(t.open(b, "raw", true), std::runtime_error);
    // Duplicate and invalid names.
    std::string c = makeQcow2("c.qcow2");
    EXPECT_THROW(t.open(c, "", false, "disk0"), std::invalid_argument);
    EXPECT_THROW(t.open(c, "", false, "0bad"), std::invalid_argument);
    EXPECT_THROW(t.open(c, "", false, "has space"), std::invalid_argument);
    EXPECT_THROW(t.open(c, "", false, std::string(40, 'x')), std::invalid_argument);
    EXPECT_THROW(t.open(dir_ + "/missing.qcow2", "", false), block::BlockError);
    EXPECT_THROW(t.open(c, "vmdk", false), block::BlockError);
    EXPECT_EQ(t.list().size(), 2u);
}

TEST_F(VmCoreTest, BusyNodeIsNotRemoved) {
    vm::BlockNodeTable t;
    t.open(makeQcow2("a.qcow2"), "qcow2", false, "n");
    t.setUser("n", "export 'n'", true);
    EXPECT_EQ(t.users("n").size(), 1u);
    try {
        t.remove("n");
        FAIL() << "removed a busy node";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "node 'n' is in use by export 'n'");
    }
    t.setUser("n", "export 'n'", false);
    EXPECT_TRUE(t.remove("n"));
    EXPECT_FALSE(t.remove("n"));
    EXPECT_EQ(t.find("n"), nullptr);
}

TEST_F(VmCoreTest, ExportRules) {
    vm::BlockNodeTable t;
    auto n = t.open(makeQcow2("a.qcow2"), "qcow2", false, "n");
    block::BitmapAction add;
    add.name = "b";
    block::BitmapAction add2;
    add2.name = "off";
    add2.disabled = true;
    block::BitmapAction actions[] = {add, add2};
    n->image->bitmaps()->apply(actions);

    vm::NbdExportService s(t);
    std::vector<std::string> deleted;
    s.setOnExportDeleted([&](const std::string& id) { deleted.push_back(id); });
    std::vector<std::string> heard;
    int listener = s.addExportListener([&](const std::string& id) { heard.push_back(id); });
    vm::NbdExportRequest r;
    r.nodeName = "n";
    try {
        s.add(r);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "NBD server not running");
    }
    vm::NbdListenAddress addr;
    addr.unixPath = dir_ + "/nbd.sock";
    s.start(addr);
    EXPECT_TRUE(s.running());
    EXPECT_THROW(s.start(addr), std::runtime_error);
    EXPECT_EQ(s.uriFor("n"), "nbd+unix:///n?socket=" + addr.unixPath);

    vm::NbdExportRequest bad = r;
    bad.nodeName = "nosuch";
    try {
        s.add(bad);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Cannot find device='nosuch' nor node-name='nosuch'");
    }
    bad = r;
    bad.bitmaps = {"b"};
    try {
        s.add(bad);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Enabled bitmap 'b' incompatible with readonly export");
    }
    bad.bitmaps = {"nope"};
    EXPECT_THROW(s.add(bad), std::runtime_error);

    r.bitmaps = {"off"};
    s.add(r);
    EXPECT_EQ(s.exportsUsingBitmap("n", "off"), std::vector<std::string>{"n"});
    EXPECT_TRUE(s.exportsUsingBitmap("n", "b").empty());
    try {
        s.add(r); // same id (the name): QEMU reports the id first
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "Block export id 'n' is already in use");
    }
    vm::NbdExportRequest sameName = r;
    sameName.id = "other";
    try {
        s.add(sameName);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "NBD server already has export named 'n'");
    }
    vm::NbdExportRequest w;
    w.nodeName = "n";
    w.id = "w";
    w.exportName = "n2";
    w.writable = true;
    w.bitmaps = {"b"};
    s.add(w);
    auto l = s.list();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[1].id, "w");
    EXPECT_EQ(l[1].exportName, "n2");
    EXPECT_TRUE(l[1].writable);
    EXPECT_EQ(t.users("n").size(), 2u);
    EXPECT_THROW(t.remove("n"), std::runtime_error);

    EXPECT_TRUE(s.removeById("w"));
    EXPECT_FALSE(s.removeById("w"));
    EXPECT_EQ(deleted, std::vector<std::string>{"w"});
    EXPECT_EQ(heard, std::vector<std::string>{"w"});
    s.removeExportListener(listener);
    s.stop();
    EXPECT_FALSE(s.running());
    EXPECT_EQ(deleted, (std::vector<std::string>{"w", "n"}));
    EXPECT_TRUE(t.users("n").empty());
    EXPECT_FALSE(fs::exists(addr.unixPath));
    // A stopped service starts again.
    s.start(addr);
    EXPECT_TRUE(s.running());
    EXPECT_TRUE(t.remove("n"));
}

TEST_F(VmCoreTest, TcpPortZeroIsResolved) {
    vm::BlockNodeTable t;
    vm::NbdExportService s(t);
    vm::NbdListenAddress addr;
    addr.port = 0;
    s.start(addr);
    EXPECT_NE(s.address().port, 0);
    EXPECT_EQ(s.uriFor("x"), "nbd://127.0.0.1:" + std::to_string(s.address().port) + "/x");
}

} // namespace

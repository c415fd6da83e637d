// PointInTimeExports: an export of a disk that keeps being written shows the disk as it was when
// the export started (read through a real NBD client while a writer thread changes the disk),
// publishes the disk's frozen bitmap through the overlay, and stop() (or the export or the job
// ending elsewhere) removes the export, the job, the overlay node and its file.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"

#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "nbd/Client.h"
#include "nbd/NbdUri.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace e2kvm;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kDiskSize = 8 << 20;
constexpr uint64_t kCluster = 65536;

// The byte the disk holds at `offset` before the export starts: differs per cluster.
uint8_t before(uint64_t offset) {
    return uint8_t(0x10 + (offset / kCluster) % 200);
}

class PointInTimeTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/e2kvm-pit-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        disk_ = dir_ + "/disk.qcow2";
        block::CreateOptions c;
        c.format = "qcow2";
        c.size = kDiskSize;
        c.sizeGiven = true;
        block::createImage(disk_, c);
        {
            block::OpenOptions o;
            o.format = "qcow2";
            o.readOnly = false;
            auto image = block::openImage(disk_, o);
            block::BitmapAction add;
            add.kind = block::BitmapActionKind::Add;
            add.name = "ckpt";
            add.granularity = kCluster;
            image->bitmaps()->apply(std::span<const block::BitmapAction>(&add, 1));
            std::vector<uint8_t> data(kDiskSize);
            for (uint64_t i = 0; i < kDiskSize; ++i)
                data[i] = before(i);
            image->write(0, data); // every cluster dirty in "ckpt"...
            block::BitmapAction clear;
            clear.kind = block::BitmapActionKind::Clear;
            clear.name = "ckpt";
            image->bitmaps()->apply(std::span<const block::BitmapAction>(&clear, 1));
            std::vector<uint8_t> again(kCluster, 0);
            for (uint64_t i = 0; i < kCluster; ++i)
                again[i] = before(3 * kCluster + i);
            image->write(3 * kCluster, again); // ...then only cluster 3 is (same bytes)
            block::BitmapAction disable;
            disable.kind = block::BitmapActionKind::Disable; // a checkpoint: frozen
            disable.name = "ckpt";
            image->bitmaps()->apply(std::span<const block::BitmapAction>(&disable, 1));
            image->flush();
            image->bitmaps()->saveForClose();
        }
        node_ = nodes_.open(disk_, "qcow2", false, "disk0");
        vm::NbdListenAddress a;
        a.unixPath = dir_ + "/nbd.sock";
        exports_.start(a);
    }
    void TearDown() override {
        exports_.stop();
        fs::remove_all(dir_);
    }

    std::unique_ptr<nbd::Client> connect(const std::string& exportName,
                                         const std::vector<std::string>& contexts = {}) {
        return nbd::Client::connect(nbd::parseNbdUri(exports_.uriFor(exportName)), contexts);
    }

    // Files in the test directory besides the disk and the socket.
    std::vector<std::string> strayFiles() const {
        std::vector<std::string> out;
        for (const auto& e : fs::directory_iterator(dir_)) {
            std::string name = e.path().filename().string();
            if (name != "disk.qcow2" && name != "nbd.sock")
                out.push_back(name);
        }
        return out;
    }

    template <typename F> static bool eventually(F&& done) {
        for (int i = 0; i < 500; ++i) {
            if (done())
                return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return done();
    }

    std::string dir_, disk_;
    vm::BlockNodeTable nodes_;
    vm::NbdExportService exports_{nodes_};
    vm::JobTable jobs_{nodes_};
    std::shared_ptr<vm::BlockNode> node_;
};

TEST_F(PointInTimeTest, ExportKeepsTheStartWhileTheDiskIsWritten) {
    vm::PointInTimeExports pit(nodes_, jobs_, exports_);
    vm::PointInTimeInfo info = pit.start({"disk0", "snap", "test", {"ckpt"}, {}});
    EXPECT_EQ(info.sourceNode, "disk0");
    EXPECT_EQ(fs::path(info.overlayFile).parent_path(), fs::path(dir_)); // next to the disk
    EXPECT_TRUE(fs::exists(info.overlayFile));
    auto overlay = nodes_.find(info.overlayNode);
    ASSERT_TRUE(overlay);
    EXPECT_EQ(overlay->image->backing(), node_->image.get());
    EXPECT_EQ(overlay->image->clusterSize(), kCluster);
    EXPECT_EQ(overlay->image->size(), kDiskSize);
    ASSERT_TRUE(jobs_.find(info.jobId));
    EXPECT_EQ(jobs_.find(info.jobId)->status(), block::JobStatus::Running);
    EXPECT_TRUE(pit.isOverlay(info.overlayNode));
    ASSERT_TRUE(pit.find("snap"));
    EXPECT_EQ(exports_.list().size(), 1u);
    EXPECT_FALSE(exports_.list()[0].writable);

    auto client = connect("snap", {"qemu:dirty-bitmap:ckpt"});
    EXPECT_EQ(client->size(), kDiskSize);

    // The guest writes all over the disk while a backup tool reads the export.
    std::atomic<bool> stopWriting{false};
    std::atomic<unsigned> writes{0};
    std::thread writer([&] {
        std::mt19937 rng(7);
        std::vector<uint8_t> data(4096);
        while (!stopWriting) {
            uint64_t off = (rng() % (kDiskSize / 4096)) * 4096;
            std::fill(data.begin(), data.end(), uint8_t(0xe0 + writes % 16));
            node_->image->write(off, data);
            ++writes;
        }
    });
    struct JoinWriter {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~JoinWriter() {
            stop = true;
            if (thread.joinable())
                thread.join();
        }
    } joinWriter{stopWriting, writer}; // also when an assertion below returns early
    std::vector<uint8_t> buf(kCluster);
    // At least three passes, and on until the guest made enough writes for the test to mean
    // something (however slow the machine; the deadline only keeps a broken writer from
    // hanging the test).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (int pass = 0; pass < 3 || writes.load() < 200; ++pass) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the writer made no progress";
        for (uint64_t off = 0; off < kDiskSize; off += kCluster) {
            client->read(off, buf);
            for (uint64_t i = 0; i < kCluster; i += 509)
                ASSERT_EQ(buf[i], before(off + i)) << "offset " << off + i << " pass " << pass;
        }
    }
    stopWriting = true;
    writer.join();
    EXPECT_GE(writes.load(), 200u);
    // Afterwards too, byte for byte.
    for (uint64_t off = 0; off < kDiskSize; off += kCluster) {
        client->read(off, buf);
        for (uint64_t i = 0; i < kCluster; ++i)
            ASSERT_EQ(buf[i], before(off + i)) << "offset " << off + i;
    }
    // The disk itself did change.
    std::vector<uint8_t> live(kDiskSize);
    node_->image->read(0, live);
    size_t changed = 0;
    for (uint64_t i = 0; i < kDiskSize; i += 4096)
        changed += live[i] != before(i);
    EXPECT_GT(changed, 0u);
    // The frozen checkpoint is published through the overlay: only cluster 3 dirty.
    auto extents = client->blockStatus("qemu:dirty-bitmap:ckpt", 0, uint32_t(kDiskSize));
    ASSERT_GE(extents.size(), 2u);
    EXPECT_EQ(extents[0].length, 3 * kCluster);
    EXPECT_EQ(extents[0].flags, 0u);
    EXPECT_EQ(extents[1].length, kCluster);
    EXPECT_EQ(extents[1].flags, 1u);
    client->disconnect();

    // Stop: export, job, node and file are gone; the disk keeps the guest's writes.
    EXPECT_TRUE(pit.stop("snap"));
    EXPECT_FALSE(pit.stop("snap"));
    EXPECT_TRUE(exports_.list().empty());
    EXPECT_FALSE(nodes_.find(info.overlayNode));
    EXPECT_FALSE(fs::exists(info.overlayFile));
    EXPECT_FALSE(jobs_.find(info.jobId));
    EXPECT_TRUE(strayFiles().empty());
    EXPECT_TRUE(nodes_.users("disk0").empty());
    EXPECT_FALSE(node_->image->hasWriteInterceptors());
    std::vector<uint8_t> after(kDiskSize);
    node_->image->read(0, after);
    EXPECT_EQ(after, live);
}

TEST_F(PointInTimeTest, ExportOrJobEndingElsewhereReleasesTheOverlay) {
    vm::PointInTimeExports pit(nodes_, jobs_, exports_);
    std::atomic<int> released{0};
    std::string why;
    pit.setOnReleased([&](const vm::PointInTimeInfo&, const std::string& w, const std::string& e) {
        EXPECT_EQ(e, "");
        why = w;
        ++released;
    });
    // Removed as QMP's block-export-del would.
    vm::PointInTimeInfo a = pit.start({"disk0", "a", "", {}, {}});
    EXPECT_TRUE(exports_.removeById("a", true));
    EXPECT_EQ(released.load(), 1);
    EXPECT_NE(why.find("export"), std::string::npos) << why;
    EXPECT_FALSE(nodes_.find(a.overlayNode));
    EXPECT_FALSE(fs::exists(a.overlayFile));
    EXPECT_TRUE(eventually([&] { return !jobs_.find(a.jobId); }));

    // The job cancelled as QMP's job-cancel would: the export cannot stay (no point in time).
    vm::PointInTimeInfo b = pit.start({"disk0", "b", "", {}, {}});
    jobs_.find(b.jobId)->cancel();
    EXPECT_TRUE(eventually([&] { return released.load() == 2; }));
    EXPECT_NE(why.find("job"), std::string::npos) << why;
    EXPECT_FALSE(exports_.hasExportId("b"));
    EXPECT_FALSE(nodes_.find(b.overlayNode));
    EXPECT_FALSE(fs::exists(b.overlayFile));
    EXPECT_FALSE(pit.find("b"));
    EXPECT_TRUE(strayFiles().empty());
}

TEST_F(PointInTimeTest, FailedStartLeavesNothingBehind) {
    vm::PointInTimeExports pit(nodes_, jobs_, exports_);
    // A recording bitmap cannot be published read-only: the export step fails last.
    block::BitmapAction enable;
    enable.kind = block::BitmapActionKind::Enable;
    enable.name = "ckpt";
    node_->image->bitmaps()->apply(std::span<const block::BitmapAction>(&enable, 1));
    try {
        pit.start({"disk0", "x", "", {"ckpt"}, {}});
        FAIL() << "a recording bitmap was exported read-only";
    } catch (const std::runtime_error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find("node 'disk0'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("incompatible with readonly export"), std::string::npos) << msg;
    }
    EXPECT_TRUE(strayFiles().empty());
    EXPECT_EQ(nodes_.list().size(), 1u);
    EXPECT_TRUE(eventually([&] { return jobs_.list().empty(); }));
    EXPECT_TRUE(nodes_.users("disk0").empty());
    EXPECT_FALSE(node_->image->hasWriteInterceptors());
    EXPECT_TRUE(exports_.list().empty());

    // No such node; a directory that does not exist.
    EXPECT_THROW(pit.start({"nope", "y", "", {}, {}}), std::runtime_error);
    try {
        pit.start({"disk0", "y", "", {}, dir_ + "/missing"});
        FAIL() << "created an overlay in a missing directory";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot create the temporary image"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(nodes_.list().size(), 1u);
    EXPECT_TRUE(pit.list().empty());
}

TEST_F(PointInTimeTest, DestructorReleasesWhatIsLeft) {
    std::string file;
    {
        vm::PointInTimeExports pit(nodes_, jobs_, exports_);
        file = pit.start({"disk0", "left", "", {}, dir_}).overlayFile;
        EXPECT_TRUE(fs::exists(file));
    }
    EXPECT_FALSE(fs::exists(file));
    EXPECT_EQ(nodes_.list().size(), 1u);
    EXPECT_TRUE(exports_.list().empty());
}

} // namespace

// A recording bitmap frozen at the point in time lists exactly the writes before it, none
// after; a new checkpoint records the ones after.
TEST_F(PointInTimeTest, RecordingBitmapIsFrozenAtThePointInTime) {
    block::BitmapCatalog& catalog = *node_->image->bitmaps();
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = "live";
    add.granularity = kCluster;
    catalog.apply(std::span<const block::BitmapAction>(&add, 1));
    std::vector<uint8_t> data(kCluster, 0x5a);
    node_->image->write(1 * kCluster, data); // before the point in time

    vm::PointInTimeExports pit(nodes_, jobs_, exports_);
    vm::PointInTimeRequest req{"disk0", "snap", "test", {}, {}};
    req.freeze = {"live"};
    req.newCheckpoint = "next";
    vm::PointInTimeInfo info = pit.start(req);
    EXPECT_EQ(info.bitmaps, std::vector<std::string>{"live"});
    node_->image->write(5 * kCluster, data); // after it

    ASSERT_TRUE(catalog.find("live"));
    EXPECT_FALSE(catalog.find("live")->enabled);
    ASSERT_TRUE(catalog.find("next"));
    EXPECT_TRUE(catalog.find("next")->enabled);
    auto live = catalog.usable("live");
    EXPECT_TRUE(live->test(1 * kCluster));
    EXPECT_FALSE(live->test(5 * kCluster));
    EXPECT_EQ(live->dirtyBytes(), kCluster);
    auto next = catalog.usable("next");
    EXPECT_TRUE(next->test(5 * kCluster));
    EXPECT_EQ(next->dirtyBytes(), kCluster);
    ASSERT_EQ(exports_.list().size(), 1u);
    EXPECT_EQ(exports_.list()[0].bitmaps, std::vector<std::string>{"live"});

    // The export reads cluster 5 as it was at the point in time.
    auto client = connect("snap", {"qemu:dirty-bitmap:live"});
    std::vector<uint8_t> got(kCluster);
    client->read(5 * kCluster, got);
    for (uint64_t i = 0; i < kCluster; i += 997)
        ASSERT_EQ(got[i], before(5 * kCluster + i));
    pit.stop("snap");
}

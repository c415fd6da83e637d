// Block devices through the run loop: DMA reads and writes, flush, write-zeroes, and every
// misuse status (bad command, range, DMA address, read-only, I/O error). Guest writes reach the
// qcow2 image through the block layer, so its enabled dirty bitmap marks exactly those ranges.
#include "MachineHarness.h"
#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/bitmap/DirtyBitmap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

// A disk whose every data operation fails (STATUS 4 for the guest).
class FailingDisk final : public block::BlockDriver {
public:
    FailingDisk() : BlockDriver("failing.img", false) {}
    std::string formatName() const override { return "failing"; }
    uint64_t size() const override { return 1 << 20; }

protected:
    void doRead(uint64_t, std::span<uint8_t>) override { fail(); }
    void doWrite(uint64_t, std::span<const uint8_t>, unsigned) override { fail(); }
    void doWriteZeroes(uint64_t, uint64_t, unsigned) override { fail(); }
    void doDiscard(uint64_t, uint64_t) override { fail(); }
    void doFlush() override { fail(); }
    block::LayerExtent doLayerStatus(uint64_t, uint64_t) override { fail(); }
    void doTruncate(uint64_t) override { fail(); }

private:
    [[noreturn]] static void fail() {
        throw block::BlockError(EIO, "failing.img: injected I/O error");
    }
};

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/e2kvm-machine-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string path;
};

} // namespace

TEST(MachineDisk, CommandsStatusesAndDirtyBitmap) {
    TempDir dir;
    const std::string qcow = dir.path + "/d0.qcow2", raw = dir.path + "/d1.raw";
    block::CreateOptions co;
    co.format = "qcow2";
    co.size = 8 << 20;
    co.sizeGiven = true;
    block::createImage(qcow, co);
    co.format = "raw";
    co.size = 1 << 20;
    block::createImage(raw, co);

    block::OpenOptions rw;
    rw.readOnly = false;
    std::shared_ptr<block::BlockDriver> d0 = block::openImage(qcow, rw);
    ASSERT_NE(d0->bitmaps(), nullptr);
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = "backup";
    add.granularity = 65536;
    d0->bitmaps()->apply(std::span(&add, 1));
    block::OpenOptions ro;
    std::shared_ptr<block::BlockDriver> d1 = block::openImage(raw, ro);

    MachineConfig c = kernelConfig("disk");
    c.disks = {{"disk0", d0, false},
               {"disk1", d1, false},
               {"disk2", std::make_shared<FailingDisk>(), false}};
    RecordingRunner r(c);
    r.runner->start();
    ASSERT_TRUE(r.waitForEvent(MachineEvent::Shutdown)) << r.serial();
    EXPECT_EQ(r.serial(), "00022233102504\n");

    // The data arrived, and came back through a read into another buffer.
    std::vector<uint8_t> onDisk(4096), written(4096), readBack(4096);
    d0->read(128 << 10, onDisk);
    r.runner->runOnMachine([&](Machine& m) {
        m.memory().read(0x300000, written.data(), 4096);
        m.memory().read(0x310000, readBack.data(), 4096);
        EXPECT_NE(m.disk(2).lastError().find("injected"), std::string::npos);
    });
    EXPECT_EQ(onDisk, written);
    EXPECT_EQ(readBack, written);
    uint64_t first = 0;
    std::memcpy(&first, written.data() + 8, 8);
    EXPECT_EQ(first, 0x300008ull | (8ull << 32));

    // The bitmap saw the 4 KiB write at 128 KiB and the write-zeroes at 1 MiB, nothing else.
    auto bm = d0->bitmaps()->usable("backup");
    ASSERT_TRUE(bm);
    EXPECT_EQ(bm->dirtyGranules(), 2u);
    EXPECT_TRUE(bm->test(128 << 10));
    EXPECT_TRUE(bm->test(1 << 20));
    EXPECT_FALSE(bm->test(0));
    EXPECT_FALSE(bm->test(192 << 10));
    r.runner->quit();
}

TEST(MachineDisk, MoreThanEightDisksAreRefused) {
    MachineConfig c = kernelConfig("echo");
    for (int i = 0; i < 9; ++i)
        c.disks.push_back({"d" + std::to_string(i), std::make_shared<FailingDisk>(), false});
    EXPECT_THROW(Machine m(c), std::runtime_error);
}

TEST(MachineDisk, AbsentDeviceReadsZero) {
    Machine m(kernelConfig("echo"));
    EXPECT_EQ(m.memory().load(0xF0017040, 8), 0u);                // FLAGS of device 7: not present
    EXPECT_EQ(m.memory().load(0xF0000020, 8), 0u);                // DRIVES
    EXPECT_THROW(m.memory().load(0xF0018000, 8), GuestException); // past the window
}

namespace {

// A 1 MiB disk in memory that counts its flushes.
class MemoryDisk final : public block::BlockDriver {
public:
    MemoryDisk() : BlockDriver("memory.img", false), data_(1 << 20) {}
    std::string formatName() const override { return "memory"; }
    uint64_t size() const override { return data_.size(); }
    int flushes = 0;

protected:
    void doRead(uint64_t off, std::span<uint8_t> buf) override {
        std::copy_n(data_.begin() + off, buf.size(), buf.begin());
    }
    void doWrite(uint64_t off, std::span<const uint8_t> buf, unsigned) override {
        std::copy(buf.begin(), buf.end(), data_.begin() + off);
    }
    void doWriteZeroes(uint64_t off, uint64_t len, unsigned) override {
        std::fill_n(data_.begin() + off, len, 0);
    }
    void doDiscard(uint64_t, uint64_t) override {}
    void doFlush() override { ++flushes; }
    block::LayerExtent doLayerStatus(uint64_t, uint64_t len) override {
        return {len, block::Allocation::Data};
    }
    void doTruncate(uint64_t) override {}

private:
    std::vector<uint8_t> data_;
};

} // namespace

TEST(MachineDisk, HotPlugAndUnplug) {
    Machine m(kernelConfig("echo"));
    auto disk = std::make_shared<MemoryDisk>();
    m.plugDisk(2, {"hot", disk, false});
    EXPECT_EQ(m.memory().load(0xF0012040, 8), 2u);    // FLAGS of slot 2: present, writable
    EXPECT_EQ(m.memory().load(0xF0012000, 8), 2048u); // CAPACITY in sectors
    EXPECT_EQ(m.memory().load(0xF0011040, 8), 0u);    // slot 1 stays empty
    EXPECT_EQ(m.memory().load(0xF0000020, 8), 3u);    // DRIVES: slots up to the last used
    EXPECT_EQ(m.diskSlots(), 3u);
    EXPECT_EQ(&m.disk(2).image(), disk.get());
    EXPECT_THROW(m.disk(1), std::out_of_range);
    EXPECT_THROW(m.plugDisk(2, {"again", disk, false}), std::runtime_error); // slot busy
    EXPECT_THROW(m.plugDisk(8, {"past", disk, false}), std::runtime_error);  // no slot 8
    m.reset();
    EXPECT_EQ(m.cpu().state().regs[1], 3u); // the guest is told at reset too

    m.unplugDisk(2);
    EXPECT_EQ(disk->flushes, 1); // written back before it leaves
    EXPECT_EQ(m.memory().load(0xF0012040, 8), 0u);
    EXPECT_EQ(m.memory().load(0xF0012000, 8), 0u);
    EXPECT_EQ(m.memory().load(0xF0000020, 8), 0u);
    EXPECT_THROW(m.unplugDisk(2), std::runtime_error);
    m.plugDisk(2, {"back", disk, true});           // the slot can be used again
    EXPECT_EQ(m.memory().load(0xF0012040, 8), 3u); // present, read-only
}

// A disk plugged while the guest runs, through the runner's thread.
TEST(MachineDisk, HotPlugWhileRunning) {
    RecordingRunner r(kernelConfig("echo"));
    r.runner->start();
    auto disk = std::make_shared<MemoryDisk>();
    r.runner->runOnMachine([&](Machine& m) { m.plugDisk(0, {"hot", disk, false}); });
    uint64_t flags = 0;
    r.runner->runOnMachine([&](Machine& m) { flags = m.memory().load(0xF0010040, 8); });
    EXPECT_EQ(flags, 2u);
    r.runner->runOnMachine([&](Machine& m) { m.unplugDisk(0); });
    r.runner->runOnMachine([&](Machine& m) { flags = m.memory().load(0xF0010040, 8); });
    EXPECT_EQ(flags, 0u);
    r.runner->quit();
}

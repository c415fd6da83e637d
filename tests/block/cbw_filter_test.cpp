// CopyBeforeWriteFilter, SnapshotAccess and BlockHandle over in-memory disks: the point in time
// survives writes through the filter, through the handle and straight to the file; a bitmap
// limits what is kept; a failed copy fails the write or gives up the point in time as asked.
#include "block/BlockError.h"
#include "block/filter/CopyBeforeWriteFilter.h"
#include "block/filter/SnapshotAccess.h"
#include "block/graph/BlockHandle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

using namespace e2kvm::block;

namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kDisk = 1024 * kKiB;

// A disk in memory whose writes can be made to fail.
class MemoryDisk final : public BlockDriver {
public:
    explicit MemoryDisk(uint64_t size) : BlockDriver("mem", false), data_(size) {}
    std::string formatName() const override { return "raw"; }
    uint64_t size() const override { return data_.size(); }
    bool failWrites = false;

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override {
        std::memcpy(buf.data(), data_.data() + offset, buf.size());
    }
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned) override {
        if (failWrites)
            throwError(ENOSPC, filename(), "full");
        std::memcpy(data_.data() + offset, buf.data(), buf.size());
    }
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned) override {
        if (failWrites)
            throwError(ENOSPC, filename(), "full");
        std::memset(data_.data() + offset, 0, length);
    }
    void doDiscard(uint64_t offset, uint64_t length) override { doWriteZeroes(offset, length, 0); }
    void doFlush() override {}
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override {
        LayerExtent e;
        e.length = std::min(maxLength, size() - offset);
        e.kind = Allocation::Data;
        return e;
    }
    void doTruncate(uint64_t) override { throwError(ENOTSUP, filename(), "fixed size"); }

private:
    std::vector<uint8_t> data_;
};

void fill(BlockDriver& d, uint64_t offset, uint64_t length, uint8_t byte) {
    std::vector<uint8_t> buf(length, byte);
    d.write(offset, buf);
}

bool holds(BlockDriver& d, uint64_t offset, uint64_t length, uint8_t byte) {
    std::vector<uint8_t> buf(length);
    d.read(offset, buf);
    for (uint8_t b : buf)
        if (b != byte)
            return false;
    return true;
}

int readErrno(BlockDriver& d, uint64_t offset, uint64_t length) {
    std::vector<uint8_t> buf(length);
    try {
        d.read(offset, buf);
    } catch (const BlockError& e) {
        return e.errnoValue();
    }
    return 0;
}

} // namespace

TEST(CopyBeforeWrite, SnapshotKeepsThePointInTimeWhateverPathWrites) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr, OnCbwError::BreakGuestWrite);
    SnapshotAccess snap(cbw);
    EXPECT_TRUE(snap.readOnly());
    fill(*cbw, 0, 4 * kKiB, 0x22);            // through the filter
    fill(*file, 100 * kKiB, 70 * kKiB, 0x33); // past it, straight to the file
    auto handle = std::make_shared<BlockHandle>(file, false);
    handle->retarget(cbw);
    fill(*handle, 512 * kKiB, 64 * kKiB, 0x44); // through a device's handle
    EXPECT_TRUE(holds(snap, 0, kDisk, 0x11));
    EXPECT_TRUE(holds(*file, 0, 4 * kKiB, 0x22));
    EXPECT_TRUE(holds(*file, 100 * kKiB, 70 * kKiB, 0x33));
    EXPECT_TRUE(holds(*cbw, 512 * kKiB, 64 * kKiB, 0x44));
    // The copied clusters (64 KiB each) are on the target; the others were not needed.
    EXPECT_TRUE(holds(*target, 0, 64 * kKiB, 0x11));
    EXPECT_TRUE(holds(*target, 64 * kKiB, 128 * kKiB, 0x11));
    EXPECT_TRUE(holds(*target, 256 * kKiB, 64 * kKiB, 0x00));
    // Only the writes through the filter count as touched by it (QEMU's done bitmap).
    EXPECT_EQ(cbw->touched().dirtyBytes(), 128 * kKiB);
    EXPECT_EQ(cbw->readable().dirtyBytes(), kDisk);
}

TEST(CopyBeforeWrite, SnapshotIsReadOnly) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr, OnCbwError::BreakGuestWrite);
    SnapshotAccess snap(cbw);
    try {
        fill(snap, 0, 512, 1);
        FAIL() << "a write to snapshot-access went through";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EPERM);
    }
}

TEST(CopyBeforeWrite, BitmapLimitsThePointInTime) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    DirtyBitmap bitmap(kDisk, 64 * kKiB);
    bitmap.set(128 * kKiB, 1);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, &bitmap, OnCbwError::BreakGuestWrite);
    bitmap.set(0, kDisk); // later changes to the bitmap do not matter
    SnapshotAccess snap(cbw);
    fill(*cbw, 0, kDisk, 0x22);
    EXPECT_TRUE(holds(snap, 128 * kKiB, 64 * kKiB, 0x11));
    EXPECT_EQ(readErrno(snap, 0, 64 * kKiB), EINVAL);
    EXPECT_EQ(readErrno(snap, 120 * kKiB, 16 * kKiB), EINVAL); // partly outside
    EXPECT_TRUE(holds(*target, 0, 64 * kKiB, 0x00));           // not copied
    EXPECT_EQ(cbw->readable().dirtyBytes(), 64 * kKiB);
}

TEST(CopyBeforeWrite, FailedCopyFailsTheWriteByDefault) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr, OnCbwError::BreakGuestWrite);
    SnapshotAccess snap(cbw);
    target->failWrites = true;
    EXPECT_THROW(fill(*cbw, 0, 512, 0x22), BlockError);
    EXPECT_TRUE(holds(*file, 0, 512, 0x11)); // the write did not happen
    target->failWrites = false;
    fill(*cbw, 0, 512, 0x22); // the copy is retried
    EXPECT_TRUE(holds(snap, 0, 64 * kKiB, 0x11));
    EXPECT_FALSE(cbw->snapshotBroken());
}

TEST(CopyBeforeWrite, BreakSnapshotLetsTheWriteThrough) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr, OnCbwError::BreakSnapshot);
    SnapshotAccess snap(cbw);
    target->failWrites = true;
    fill(*cbw, 0, 512, 0x22);
    EXPECT_TRUE(holds(*file, 0, 512, 0x22));
    EXPECT_TRUE(cbw->snapshotBroken());
    EXPECT_EQ(readErrno(snap, 512 * kKiB, 512), EACCES);
}

TEST(CopyBeforeWrite, RemovingTheFilterEndsTheCopies) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    {
        auto cbw = std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr,
                                                           OnCbwError::BreakGuestWrite);
        EXPECT_TRUE(file->hasWriteInterceptors());
    }
    EXPECT_FALSE(file->hasWriteInterceptors());
    fill(*file, 0, 64 * kKiB, 0x22);
    EXPECT_TRUE(holds(*target, 0, 64 * kKiB, 0x00));
}

TEST(CopyBeforeWrite, SizesMustMatch) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk / 2);
    try {
        CopyBeforeWriteFilter cbw(file, target, nullptr, OnCbwError::BreakGuestWrite);
        FAIL() << "a target of another size was taken";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EINVAL);
    }
}

TEST(CopyBeforeWrite, ConcurrentWritesAndSnapshotReadsAgree) {
    auto file = std::make_shared<MemoryDisk>(kDisk);
    auto target = std::make_shared<MemoryDisk>(kDisk);
    fill(*file, 0, kDisk, 0x11);
    auto cbw =
        std::make_shared<CopyBeforeWriteFilter>(file, target, nullptr, OnCbwError::BreakGuestWrite);
    SnapshotAccess snap(cbw);
    std::thread writer([&] {
        for (uint64_t off = 0; off < kDisk; off += 4 * kKiB)
            fill(*cbw, off, 4 * kKiB, 0x22);
    });
    bool same = true;
    for (int round = 0; round < 20; ++round)
        same = same && holds(snap, 0, kDisk, 0x11);
    writer.join();
    EXPECT_TRUE(same);
    EXPECT_TRUE(holds(snap, 0, kDisk, 0x11));
    EXPECT_TRUE(holds(*file, 0, kDisk, 0x22));
}

TEST(BlockHandle, RetargetChecksSizeAndWritability) {
    auto a = std::make_shared<MemoryDisk>(kDisk);
    auto b = std::make_shared<MemoryDisk>(kDisk);
    auto small = std::make_shared<MemoryDisk>(kDisk / 2);
    fill(*a, 0, 512, 0xaa);
    fill(*b, 0, 512, 0xbb);
    BlockHandle h(a, false);
    EXPECT_TRUE(holds(h, 0, 512, 0xaa));
    h.retarget(b);
    EXPECT_EQ(h.node(), b);
    EXPECT_TRUE(holds(h, 0, 512, 0xbb));
    try {
        h.retarget(small);
        FAIL() << "a node of another size was taken";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EINVAL);
    }
    auto cbw = std::make_shared<CopyBeforeWriteFilter>(a, b, nullptr, OnCbwError::BreakGuestWrite);
    try {
        h.retarget(std::make_shared<SnapshotAccess>(cbw));
        FAIL() << "a writing handle took a read-only node";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EPERM);
    }
}

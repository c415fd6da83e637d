#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmapRecorder.h"
#include "block/bitmap/DirtyExtents.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace e2kvm::block;

namespace {

// A disk held in memory, just enough of a BlockDriver to drive write observers.
class MemoryDisk final : public BlockDriver {
public:
    explicit MemoryDisk(uint64_t size) : BlockDriver("mem", false), data_(size) {}
    std::string formatName() const override { return "raw"; }
    uint64_t size() const override { return data_.size(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override {
        std::memcpy(buf.data(), data_.data() + offset, buf.size());
    }
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned) override {
        std::memcpy(data_.data() + offset, buf.data(), buf.size());
    }
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned) override {
        std::memset(data_.data() + offset, 0, length);
    }
    void doDiscard(uint64_t offset, uint64_t length) override { doWriteZeroes(offset, length, 0); }
    void doFlush() override {}
    LayerExtent doLayerStatus(uint64_t, uint64_t maxLength) override {
        return {maxLength, Allocation::Data, std::nullopt, false};
    }
    void doTruncate(uint64_t newSize) override { data_.resize(newSize); }

private:
    std::vector<uint8_t> data_;
};

} // namespace

TEST(DirtyBitmapRecorder, MarksEveryKindOfChangeWhileEnabled) {
    MemoryDisk disk(1 << 20);
    auto bitmap = std::make_shared<DirtyBitmap>(disk.size(), 4096);
    auto recorder = std::make_shared<DirtyBitmapRecorder>(bitmap);
    disk.addWriteObserver(recorder);

    std::vector<uint8_t> buf(10, 0xaa);
    disk.write(5000, buf);            // granule 1
    disk.writeZeroes(3 * 4096, 4097); // granules 3, 4
    disk.discard(10 * 4096 + 1, 1);   // granule 10
    disk.read(20 * 4096, buf);        // reads mark nothing
    EXPECT_EQ(bitmap->dirtyBytes(), 4u * 4096);
    auto ext = dirtyExtents(*bitmap, 0, 11 * 4096);
    std::vector<DirtyExtent> expected{
        {0, 4096, false},           {4096, 4096, true},          {8192, 4096, false},
        {3 * 4096, 2 * 4096, true}, {5 * 4096, 5 * 4096, false}, {10 * 4096, 4096, true}};
    EXPECT_EQ(ext, expected);

    recorder->setEnabled(false);
    disk.write(50 * 4096, buf);
    EXPECT_FALSE(bitmap->test(50 * 4096));
    recorder->setEnabled(true);

    // Growing the image grows the bitmap with it; the new area stays clean, as in QEMU (246).
    disk.truncate(2 << 20);
    EXPECT_EQ(bitmap->diskSize(), 2u << 20);
    EXPECT_FALSE(bitmap->nextDirty(1 << 20, UINT64_MAX).has_value());
    EXPECT_EQ(bitmap->dirtyBytes(), 4u * 4096);
    disk.write((2 << 20) - 10, buf);
    EXPECT_EQ(bitmap->dirtyBytes(), 5u * 4096);

    disk.removeWriteObserver(recorder.get());
    disk.write(60 * 4096, buf);
    EXPECT_FALSE(bitmap->test(60 * 4096));
    EXPECT_THROW(DirtyBitmapRecorder(nullptr), BlockError);
}

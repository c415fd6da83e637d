#pragma once
// BlkverifyFilter: QEMU's blkverify driver, a debugging filter that checks an image (test)
// against a raw copy of what it should contain (raw). Reads are served by both and compared;
// a difference is reported on stderr in QEMU's words and ends the process (exit status 1), as
// QEMU does. Writes, zero writes, discards and flushes go to both; block status and size are
// the test image's.
#include "block/BlockDriver.h"

#include <memory>
#include <string>

namespace e2kvm::block {

class BlkverifyFilter final : public BlockDriver {
public:
    // `formatName`: "blkverify", or "raw" for the raw format QEMU puts over the node when its
    // format is probed or given as raw (the node passes every request through).
    BlkverifyFilter(std::shared_ptr<BlockDriver> test, std::shared_ptr<BlockDriver> raw,
                    std::string formatName = "blkverify");

    std::string formatName() const override { return formatName_; }
    uint64_t size() const override { return test_->size(); }
    uint64_t allocatedBytes() const override { return test_->allocatedBytes(); }
    // As QEMU's blkverify, which cannot tell the space its two files take together.
    bool allocatedBytesKnown() const override { return false; }
    BlockDriver* backing() const override { return test_->backing(); }
    Blkdebug* blkdebug() const override { return test_->blkdebug(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    std::shared_ptr<BlockDriver> test_, raw_;
    std::string formatName_;
};

} // namespace e2kvm::block

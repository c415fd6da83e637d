#pragma once
// CompressFilter: QEMU's compress filter node (driver=compress). It stands over a format that
// can store compressed clusters (qcow2) and turns every write into compressed cluster writes:
// a write is widened to whole clusters (the parts it does not cover are read first, through
// the file's backing chain), and each cluster is written compressed. Reads, zero writes,
// discards, flushes and block status pass through unchanged.
#include "block/BlockDriver.h"

#include <memory>
#include <mutex>

namespace e2kvm::block {

class CompressFilter final : public BlockDriver {
public:
    // Throws BlockError(ENOTSUP) when `file` cannot store compressed clusters, in QEMU's words.
    explicit CompressFilter(std::shared_ptr<BlockDriver> file);

    std::string formatName() const override { return "compress"; }
    uint64_t size() const override { return file_->size(); }
    uint64_t allocatedBytes() const override { return file_->allocatedBytes(); }
    uint32_t clusterSize() const override { return file_->clusterSize(); }
    bool supportsCompression() const override { return true; }
    Blkdebug* blkdebug() const override { return file_->blkdebug(); }
    const std::shared_ptr<BlockDriver>& file() const { return file_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;
    void doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<BlockDriver> file_;
    // Widened writes read and write whole clusters: two of them sharing a cluster must not
    // interleave (each would write back the other's old bytes).
    std::mutex writeMutex_;
};

} // namespace e2kvm::block

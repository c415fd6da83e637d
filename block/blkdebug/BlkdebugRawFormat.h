#pragma once
// BlkdebugRawFormat: the raw format over a blkdebug node (blockdev-add driver=raw with a
// blkdebug node as its file). Requests pass to the node unchanged; a read first raises
// read_aio and a write write_aio on the node's injector, as QEMU's raw driver raises them on
// its file, so that inject-error rules on those events fail the requests that follow.
#include "Blkdebug.h"
#include "block/BlockDriver.h"

#include <memory>

namespace e2kvm::block {

class BlkdebugRawFormat final : public BlockDriver {
public:
    // `node`: a blkdebug node (its blkdebug() is not null).
    explicit BlkdebugRawFormat(std::shared_ptr<BlockDriver> node);

    std::string formatName() const override { return "raw"; }
    bool hasDriverInfo() const override { return node_->hasDriverInfo(); }
    uint64_t size() const override { return node_->size(); }
    uint64_t allocatedBytes() const override { return node_->allocatedBytes(); }
    uint32_t clusterSize() const override { return node_->clusterSize(); }
    bool unallocatedReadsAsZero() const override { return node_->unallocatedReadsAsZero(); }
    Blkdebug* blkdebug() const override { return injector_; }
    BitmapCatalog* bitmaps() override { return node_->bitmaps(); }
    std::string dataFilename() const override { return node_->dataFilename(); }
    const std::shared_ptr<BlockDriver>& node() const { return node_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    std::shared_ptr<BlockDriver> node_;
    Blkdebug* injector_; // node_'s
};

} // namespace e2kvm::block

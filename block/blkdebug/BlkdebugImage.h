#pragma once
// BlkdebugImage: a blkdebug node used as an image of its own (driver=blkdebug with the image
// to test under it, a format or a file): every request passes its injector's check before it
// reaches the image below, which is otherwise shown unchanged. The usual place of blkdebug,
// between a format and its file, needs no node: the format's HostFile carries the injector
// (OpenOptions::blkdebug) and the format raises the events.
#include "Blkdebug.h"
#include "block/BlockDriver.h"

#include <memory>

namespace e2kvm::block {

class BlkdebugImage final : public BlockDriver {
public:
    BlkdebugImage(std::shared_ptr<Blkdebug> injector, std::unique_ptr<BlockDriver> image);

    std::string formatName() const override { return "blkdebug"; }
    std::string protocolName() const override { return "blkdebug"; }
    // A filter in QEMU: the information is that of the image below.
    bool hasDriverInfo() const override { return image_->hasDriverInfo(); }
    uint64_t size() const override { return image_->size(); }
    uint64_t allocatedBytes() const override { return image_->allocatedBytes(); }
    BlockDriver* backing() const override { return image_->backing(); }
    uint32_t clusterSize() const override { return image_->clusterSize(); }
    bool unallocatedReadsAsZero() const override { return image_->unallocatedReadsAsZero(); }
    bool supportsCompression() const override { return image_->supportsCompression(); }
    BitmapCatalog* bitmaps() override { return image_->bitmaps(); }
    Blkdebug* blkdebug() const override { return injector_.get(); }
    BlockDriver& image() const { return *image_; }
    // Data read through the node lives in the image's file, named as QEMU's map names it.
    std::string dataFilename() const override { return image_->dataFilename(); }

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
    std::shared_ptr<Blkdebug> injector_;
    std::unique_ptr<BlockDriver> image_;

    // One write as it reaches the image below (after any widening to the alignment).
    void writeBelow(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags);
    // One write-zeroes piece as it reaches the image below.
    void writeZeroesBelow(uint64_t offset, uint64_t length, unsigned zeroFlags);
};

} // namespace e2kvm::block

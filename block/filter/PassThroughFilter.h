#pragma once
// PassThroughFilter: a node that hands every request unchanged to the node below it, which
// others may hold too. On its own it links a node that is shared (a blockdev-add node named
// by reference) to a user that takes sole ownership of what it stands over (BlkdebugImage);
// filters that change only some requests (copy-on-read, throttle) derive from it. The node
// below may be replaced while requests run (an active commit of the node moves the filter onto
// its base).
#include "block/BlockDriver.h"

#include <atomic>
#include <memory>

namespace e2kvm::block {

class PassThroughFilter : public BlockDriver {
public:
    explicit PassThroughFilter(std::shared_ptr<BlockDriver> file);
    std::string formatName() const override { return file()->formatName(); }
    uint64_t size() const override { return file()->size(); }
    uint64_t allocatedBytes() const override { return file()->allocatedBytes(); }
    BlockDriver* backing() const override { return file()->backing(); }
    uint32_t clusterSize() const override { return file()->clusterSize(); }
    bool unallocatedReadsAsZero() const override { return file()->unallocatedReadsAsZero(); }
    bool supportsCompression() const override { return file()->supportsCompression(); }
    Blkdebug* blkdebug() const override { return file()->blkdebug(); }
    BitmapCatalog* bitmaps() override { return file()->bitmaps(); }
    std::shared_ptr<BlockDriver> file() const { return file_.load(std::memory_order_acquire); }
    // Requests from now on go to `file` (of the same size). A request already under way ends
    // on the old one: pause this node's changes (ChangesPaused) around the swap to have none.
    void replaceFile(std::shared_ptr<BlockDriver> file) {
        file_.store(std::move(file), std::memory_order_release);
    }

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
    std::atomic<std::shared_ptr<BlockDriver>> file_;
};

} // namespace e2kvm::block

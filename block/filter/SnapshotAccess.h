#pragma once
// SnapshotAccess: QEMU's snapshot-access node: reads the point in time a copy-before-write
// filter keeps. A cluster not yet copied is read from the filter's file (changes to it wait
// meanwhile), a copied one from the target. Reading a cluster outside the point in time (the
// filter was given a bitmap) fails with EINVAL, any read after the point in time was given up
// (break-snapshot) with EACCES. Read-only.
#include "block/BlockDriver.h"
#include "block/filter/CopyBeforeWriteFilter.h"

#include <memory>

namespace e2kvm::block {

class SnapshotAccess final : public BlockDriver {
public:
    explicit SnapshotAccess(std::shared_ptr<CopyBeforeWriteFilter> filter);

    std::string formatName() const override { return "snapshot-access"; }
    uint64_t size() const override { return filter_->size(); }
    const std::shared_ptr<CopyBeforeWriteFilter>& filter() const { return filter_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    void checkReadable(uint64_t offset, uint64_t length) const;

    std::shared_ptr<CopyBeforeWriteFilter> filter_;
};

} // namespace e2kvm::block

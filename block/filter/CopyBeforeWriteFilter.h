#pragma once
// CopyBeforeWriteFilter: QEMU's copy-before-write filter node. It stands over its file node and
// passes every request on to it; before a change reaches the file, the old contents of the
// clusters it covers are copied to the target (a fleecing image), once each, so that the file's
// point in time of the filter's creation stays readable (SnapshotAccess, or the target itself
// when it is an overlay of the file). The copy is put before every change to the file, also
// those that do not pass through the filter, so no writer can slip past the point in time.
//
// A filter either owns its copy (blockdev-add driver=copy-before-write) or shows a backup
// job's copy as a node (blockdev-backup filter-node-name): then the job decides what is copied.
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/copy/BlockCopy.h"

#include <atomic>
#include <memory>
#include <optional>

namespace e2kvm::block {

// What a failed copy does (QMP's OnCbwError).
enum class OnCbwError {
    BreakGuestWrite, // the write fails with the copy's error; the point in time is kept
    BreakSnapshot,   // the write goes on; the point in time is lost (reads of it fail, EACCES)
};

class CopyBeforeWriteFilter final : public BlockDriver {
public:
    // Takes the point in time now: the clusters to keep are all of them, or those holding a
    // dirty granule of `bitmap` (its contents at this moment; later changes to it do not
    // matter). Throws BlockError(EINVAL) when file and target differ in size.
    CopyBeforeWriteFilter(std::shared_ptr<BlockDriver> file, std::shared_ptr<BlockDriver> target,
                          const DirtyBitmap* bitmap, OnCbwError onError);
    // A backup job's filter: `copy` is the job's, already before the file's changes.
    explicit CopyBeforeWriteFilter(std::shared_ptr<BlockCopy> copy);
    ~CopyBeforeWriteFilter() override;

    std::string formatName() const override { return "copy-before-write"; }
    uint64_t size() const override { return file_->size(); }
    uint32_t clusterSize() const override { return 0; }

    const std::shared_ptr<BlockDriver>& file() const { return file_; }
    const std::shared_ptr<BlockDriver>& target() const { return target_; }
    BlockCopy& copy() const { return *copy_; }
    // Clusters whose point in time can be read (QEMU's access bitmap).
    const DirtyBitmap& readable() const { return readable_; }
    // Clusters that changes through this filter have touched (QEMU's done bitmap).
    const DirtyBitmap& touched() const { return touched_; }
    // Whether a failed copy gave up the point in time (on-cbw-error=break-snapshot).
    bool snapshotBroken() const { return guard_->broken.load(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    // The interceptor on the file: runs the copy, and applies the error policy.
    struct Guard final : WriteInterceptor {
        std::shared_ptr<BlockCopy> copy;
        OnCbwError onError = OnCbwError::BreakGuestWrite;
        std::atomic<bool> broken{false};
        void beforeChange(uint64_t offset, uint64_t length) override;
    };

    std::shared_ptr<BlockDriver> file_, target_;
    std::shared_ptr<BlockCopy> copy_;
    std::shared_ptr<Guard> guard_;
    bool ownsCopy_ = false;
    bool guardsTargetReads_ = false;
    DirtyBitmap readable_, touched_;
};

} // namespace e2kvm::block

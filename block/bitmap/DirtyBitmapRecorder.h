#pragma once
// DirtyBitmapRecorder: a BlockDriver write observer that marks a DirtyBitmap on every write,
// write-zeroes, discard and growth of the image while it is enabled.
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"

#include <atomic>
#include <memory>

namespace e2kvm::block {

class DirtyBitmapRecorder final : public WriteObserver {
public:
    explicit DirtyBitmapRecorder(std::shared_ptr<DirtyBitmap> bitmap, bool enabled = true);

    // Marks [offset, offset+length) dirty if enabled. A change past the end of the bitmap
    // (the image grew) first grows the bitmap to cover it.
    void contentsChanged(uint64_t offset, uint64_t length) override;

    void setEnabled(bool enabled) { enabled_.store(enabled, std::memory_order_release); }
    bool enabled() const { return enabled_.load(std::memory_order_acquire); }
    const std::shared_ptr<DirtyBitmap>& bitmap() const { return bitmap_; }

private:
    std::shared_ptr<DirtyBitmap> bitmap_;
    std::atomic<bool> enabled_;
};

} // namespace e2kvm::block

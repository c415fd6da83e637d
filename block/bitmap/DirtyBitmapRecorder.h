#pragma once
// DirtyBitmapRecorder: a BlockDriver write observer that marks a DirtyBitmap on every write,
// write-zeroes and discard of the image while it is enabled. Growing the image leaves the new
// area clean, as in QEMU: the owner of the bitmap resizes it with the image.
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
    // Growth is not a change of contents: the bitmap grows with the image and the new area
    // stays clean (it reads as zeros, as it does in a backup target grown to the same size).
    void sizeGrowing(uint64_t oldSize, uint64_t newSize) override;

    void setEnabled(bool enabled) { enabled_.store(enabled, std::memory_order_release); }
    bool enabled() const { return enabled_.load(std::memory_order_acquire); }
    const std::shared_ptr<DirtyBitmap>& bitmap() const { return bitmap_; }

private:
    std::shared_ptr<DirtyBitmap> bitmap_;
    std::atomic<bool> enabled_;
};

} // namespace e2kvm::block

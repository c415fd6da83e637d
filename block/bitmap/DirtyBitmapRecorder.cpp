#include "block/bitmap/DirtyBitmapRecorder.h"

#include "block/BlockError.h"

namespace e2kvm::block {

DirtyBitmapRecorder::DirtyBitmapRecorder(std::shared_ptr<DirtyBitmap> bitmap, bool enabled)
    : bitmap_(std::move(bitmap)), enabled_(enabled) {
    if (!bitmap_)
        throw BlockError(EINVAL, "dirty bitmap recorder needs a bitmap");
}

void DirtyBitmapRecorder::contentsChanged(uint64_t offset, uint64_t length) {
    if (!enabled() || length == 0)
        return;
    if (offset > DirtyBitmap::kMaxDiskSize || length > DirtyBitmap::kMaxDiskSize - offset)
        throw BlockError(EINVAL, "dirty bitmap: change past 2^63 bytes");
    if (offset + length > bitmap_->diskSize())
        bitmap_->growTo(offset + length);
    bitmap_->set(offset, length);
}

void DirtyBitmapRecorder::sizeGrowing(uint64_t, uint64_t newSize) {
    if (newSize > DirtyBitmap::kMaxDiskSize)
        throw BlockError(EINVAL, "dirty bitmap: image grows past 2^63 bytes");
    bitmap_->growTo(newSize);
}

} // namespace e2kvm::block

#include "block/bitmap/DirtyExtents.h"

#include "block/BlockError.h"

#include <algorithm>
#include <string>

namespace e2kvm::block {

DirtyExtentWalker::DirtyExtentWalker(const DirtyBitmap& bitmap, uint64_t offset, uint64_t length)
    : bitmap_(bitmap), pos_(offset), end_(offset) {
    uint64_t size = bitmap.diskSize();
    if (offset > size || length > size - offset)
        throw BlockError(EINVAL, "dirty extents past end of disk: offset " +
                                     std::to_string(offset) + ", length " + std::to_string(length) +
                                     ", size " + std::to_string(size));
    end_ = offset + length;
}

std::optional<DirtyExtent> DirtyExtentWalker::next() {
    if (next_ == batch_.size()) {
        if (pos_ >= end_)
            return std::nullopt;
        constexpr size_t kBatch = 4096;
        // The bitmap may have shrunk meanwhile: the part past its end reads as clean.
        uint64_t size = bitmap_.diskSize();
        if (pos_ >= size) {
            batch_.assign(1, DirtyExtent{pos_, end_ - pos_, false});
        } else {
            batch_ = bitmap_.extents(pos_, std::min(end_, size) - pos_, kBatch);
            if (batch_.empty()) // cannot happen for a non-empty range
                return std::nullopt;
        }
        next_ = 0;
        pos_ = batch_.back().offset + batch_.back().length;
    }
    return batch_[next_++];
}

std::vector<DirtyExtent> dirtyExtents(const DirtyBitmap& bitmap, uint64_t offset, uint64_t length,
                                      size_t maxExtents) {
    return bitmap.extents(offset, length, maxExtents);
}

} // namespace e2kvm::block

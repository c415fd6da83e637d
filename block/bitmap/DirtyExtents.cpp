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
    if (pos_ >= end_)
        return std::nullopt;
    bool dirty = bitmap_.test(pos_);
    auto change = dirty ? bitmap_.nextClean(pos_, end_) : bitmap_.nextDirty(pos_, end_);
    uint64_t stop = change.value_or(end_);
    if (stop <= pos_) // a writer flipped the granule between the two looks: take one granule
        stop = std::min(end_, (pos_ / bitmap_.granularity() + 1) * bitmap_.granularity());
    DirtyExtent e{pos_, stop - pos_, dirty};
    pos_ = stop;
    return e;
}

std::vector<DirtyExtent> dirtyExtents(const DirtyBitmap& bitmap, uint64_t offset, uint64_t length,
                                      size_t maxExtents) {
    std::vector<DirtyExtent> out;
    DirtyExtentWalker walker(bitmap, offset, length);
    while (out.size() < maxExtents) {
        auto e = walker.next();
        if (!e)
            break;
        out.push_back(*e);
    }
    return out;
}

} // namespace e2kvm::block

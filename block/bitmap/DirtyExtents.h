#pragma once
// Dirty extents: a byte range of a DirtyBitmap as alternating (offset, length, dirty) runs,
// clipped to the query — what NBD's qemu:dirty-bitmap:NAME block status and `map --bitmap`
// report.
#include "block/bitmap/DirtyBitmap.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace e2kvm::block {

// Walks [offset, offset+length) one run at a time, fetching runs in batches. Each batch is a
// consistent look at the bitmap; writers running meanwhile may make the two runs where
// batches meet have the same state.
class DirtyExtentWalker {
public:
    // Throws BlockError(EINVAL) if the range extends past the bitmap's disk.
    DirtyExtentWalker(const DirtyBitmap& bitmap, uint64_t offset, uint64_t length);
    // The next run, or nullopt at the end of the range.
    std::optional<DirtyExtent> next();

private:
    const DirtyBitmap& bitmap_;
    uint64_t pos_;
    uint64_t end_;
    std::vector<DirtyExtent> batch_;
    size_t next_ = 0;
};

// At most maxExtents runs of [offset, offset+length), in order, covering a prefix of it
// (DirtyBitmap::extents).
std::vector<DirtyExtent> dirtyExtents(const DirtyBitmap& bitmap, uint64_t offset, uint64_t length,
                                      size_t maxExtents = std::numeric_limits<size_t>::max());

} // namespace e2kvm::block

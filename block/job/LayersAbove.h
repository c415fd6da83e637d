#pragma once
// LayersAbove: whether a range is stored in some layer of a backing chain from `top` down to,
// but not including, `base` (QEMU's "allocated above base"): what block-stream and
// block-commit copy.
#include "block/BlockDriver.h"

namespace e2kvm::block {

struct LayersExtent {
    uint64_t length = 0;    // > 0 (unless offset is at or past the end of `top`)
    bool allocated = false; // stored (data or zeros) in one of the layers
};

// `top` itself counts when `includeTop` (commit copies the top layer; stream copies into it).
LayersExtent layersAbove(BlockDriver& top, const BlockDriver* base, uint64_t offset,
                         uint64_t maxLength, bool includeTop);

} // namespace e2kvm::block

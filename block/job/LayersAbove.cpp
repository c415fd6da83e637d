#include "LayersAbove.h"

#include <algorithm>

namespace e2kvm::block {

LayersExtent layersAbove(BlockDriver& top, const BlockDriver* base, uint64_t offset,
                         uint64_t maxLength, bool includeTop) {
    LayersExtent out;
    if (offset >= top.size())
        return out;
    out.length = std::min(maxLength, top.size() - offset);
    BlockDriver* layer = includeTop ? &top : top.backing();
    for (; layer && layer != base; layer = layer->backing()) {
        if (offset >= layer->size()) {
            // Past the end of a shorter layer: reads as zeros there, whatever lies below.
            out.allocated = true;
            break;
        }
        LayerExtent e = layer->layerStatus(offset, std::min(out.length, layer->size() - offset));
        out.length = e.length;
        if (e.kind != Allocation::Unallocated) {
            out.allocated = true;
            break;
        }
    }
    return out;
}

} // namespace e2kvm::block

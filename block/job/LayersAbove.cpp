#include "LayersAbove.h"

#include "block/filter/PassThroughFilter.h"

#include <algorithm>

namespace e2kvm::block {

namespace {

// Whether `layer` is a filter, or a stack of them, standing over `base` (a throttle node under
// the layer above the base): it stores nothing of its own, and what it reads is the base's.
bool filterOverBase(const BlockDriver* layer, const BlockDriver* base) {
    while (const auto* filter = dynamic_cast<const PassThroughFilter*>(layer)) {
        layer = filter->file().get();
        if (layer == base)
            return true;
    }
    return false;
}

} // namespace

LayersExtent layersAbove(BlockDriver& top, const BlockDriver* base, uint64_t offset,
                         uint64_t maxLength, bool includeTop) {
    LayersExtent out;
    if (offset >= top.size())
        return out;
    out.length = std::min(maxLength, top.size() - offset);
    BlockDriver* layer = includeTop ? &top : top.backing();
    for (; layer && layer != base && !filterOverBase(layer, base); layer = layer->backing()) {
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

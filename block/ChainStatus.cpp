#include "ChainStatus.h"

#include <algorithm>

namespace e2kvm::block {

ChainExtent chainStatus(BlockDriver& top, uint64_t offset, uint64_t maxLength) {
    BlockDriver* layer = &top;
    ChainExtent out;
    uint64_t length = std::min(maxLength, top.size() - std::min(offset, top.size()));
    for (int depth = 0;; ++depth) {
        LayerExtent e = layer->layerStatus(offset, length);
        length = e.length;
        out.depth = depth;
        out.length = length;
        out.layer = layer;
        switch (e.kind) {
        case Allocation::Data:
            out.data = true;
            out.zero = e.dataReadsAsZero;
            out.present = true;
            out.hostOffset = e.compressed ? std::nullopt : e.hostOffset;
            return out;
        case Allocation::Zero:
            out.data = false;
            out.zero = true;
            out.present = true;
            out.hostOffset = e.hostOffset;
            return out;
        case Allocation::Unallocated:
            break;
        }
        BlockDriver* next = layer->backing();
        if (!next) {
            out.data = false;
            out.zero = layer->unallocatedReadsAsZero();
            out.present = false;
            // A host cluster whose subclusters are not allocated yet (qcow2 extended L2)
            // still has its offset, which QEMU reports.
            out.hostOffset = e.hostOffset;
            return out;
        }
        if (offset >= next->size()) {
            // Past the end of a shorter backing file: zeros, reported (as QEMU does) at the
            // depth of the layer that has the range unallocated.
            out.depth = depth;
            out.data = false;
            out.zero = true;
            out.present = false;
            return out;
        }
        length = std::min(length, next->size() - offset);
        layer = next;
    }
}

} // namespace e2kvm::block

#include "CopyOnReadFilter.h"

#include "block/BlockError.h"

#include <algorithm>

namespace e2kvm::block {

CopyOnReadFilter::CopyOnReadFilter(std::shared_ptr<BlockDriver> file,
                                   std::shared_ptr<BlockDriver> bottom,
                                   const std::string& bottomName)
    : PassThroughFilter(std::move(file)), bottom_(std::move(bottom)) {
    if (!bottom_ || bottom_ == this->file())
        return;
    for (BlockDriver* layer = this->file()->backing(); layer; layer = layer->backing())
        if (layer == bottom_.get())
            return;
    throw BlockError("Bottom node '" + bottomName + "' not found");
}

bool CopyOnReadFilter::heldAboveBottom(uint64_t offset, uint64_t* length) const {
    if (bottom_ == file())
        return false; // nothing below the top layer is copied
    for (BlockDriver* layer = file()->backing(); layer; layer = layer->backing()) {
        LayerExtent e = layer->layerStatus(offset, *length);
        *length = std::min(*length, e.length);
        if (e.kind != Allocation::Unallocated)
            return true;
        if (layer == bottom_.get())
            break;
    }
    return false;
}

void CopyOnReadFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file()->read(offset, buf);
    if (file()->readOnly())
        return;
    const uint64_t end = offset + buf.size();
    for (uint64_t pos = offset; pos < end;) {
        LayerExtent e = file()->layerStatus(pos, end - pos);
        if (e.kind == Allocation::Unallocated && bottom_) {
            uint64_t held = e.length;
            const bool copy = heldAboveBottom(pos, &held);
            e.length = held;
            if (!copy) {
                pos += e.length;
                continue;
            }
        }
        if (e.kind == Allocation::Unallocated) {
            auto data = buf.subspan(size_t(pos - offset), size_t(e.length));
            // As QEMU's: what reads as zero is stored as zeros (qcow2: zero clusters).
            if (std::all_of(data.begin(), data.end(), [](uint8_t b) { return b == 0; }))
                file()->writeZeroes(pos, e.length);
            else
                file()->write(pos, data);
        }
        pos += e.length;
    }
}

} // namespace e2kvm::block

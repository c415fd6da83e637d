#include "CopyOnReadFilter.h"

#include <algorithm>

namespace e2kvm::block {

CopyOnReadFilter::CopyOnReadFilter(std::shared_ptr<BlockDriver> file)
    : PassThroughFilter(std::move(file)) {}

void CopyOnReadFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file()->read(offset, buf);
    if (file()->readOnly())
        return;
    const uint64_t end = offset + buf.size();
    for (uint64_t pos = offset; pos < end;) {
        LayerExtent e = file()->layerStatus(pos, end - pos);
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

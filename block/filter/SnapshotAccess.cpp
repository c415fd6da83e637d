#include "SnapshotAccess.h"

#include <algorithm>

namespace e2kvm::block {

SnapshotAccess::SnapshotAccess(std::shared_ptr<CopyBeforeWriteFilter> filter)
    : BlockDriver(filter->filename(), true), filter_(std::move(filter)) {}

void SnapshotAccess::checkReadable(uint64_t offset, uint64_t length) const {
    if (filter_->readable().nextClean(offset, offset + length))
        throwError(EINVAL, filename(), "range outside the point in time");
    if (filter_->snapshotBroken())
        throwError(EACCES, filename(), "the point in time was given up after a failed copy");
}

void SnapshotAccess::doRead(uint64_t offset, std::span<uint8_t> buf) {
    checkReadable(offset, buf.size());
    BlockCopy& copy = filter_->copy();
    const uint64_t unit = copy.clusterSize();
    for (uint64_t pos = offset, end = offset + buf.size(); pos < end;) {
        uint64_t stop = std::min(end, (pos / unit + 1) * unit);
        std::span<uint8_t> part = buf.subspan(size_t(pos - offset), size_t(stop - pos));
        if (copy.beginSnapshotRead(pos, stop - pos)) {
            try {
                copy.source().read(pos, part);
            } catch (...) {
                copy.endRead(pos, stop - pos);
                throw;
            }
            copy.endRead(pos, stop - pos);
        } else {
            copy.target().read(pos, part);
        }
        pos = stop;
    }
    if (filter_->snapshotBroken()) // given up while we read: what we read may be newer
        throwError(EACCES, filename(), "the point in time was given up after a failed copy");
}

void SnapshotAccess::doWrite(uint64_t, std::span<const uint8_t>, unsigned) {
    throwError(EPERM, filename(), "snapshot-access is read-only");
}

void SnapshotAccess::doWriteZeroes(uint64_t, uint64_t, unsigned) {
    throwError(EPERM, filename(), "snapshot-access is read-only");
}

void SnapshotAccess::doDiscard(uint64_t, uint64_t) {
    throwError(EPERM, filename(), "snapshot-access is read-only");
}

void SnapshotAccess::doFlush() {}

LayerExtent SnapshotAccess::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    // Everything reads as data (QEMU's snapshot-access reports no finer status either).
    LayerExtent e;
    e.length = std::min(maxLength, size() - offset);
    e.kind = Allocation::Data;
    return e;
}

void SnapshotAccess::doTruncate(uint64_t) {
    throwError(EPERM, filename(), "snapshot-access cannot be resized");
}

} // namespace e2kvm::block

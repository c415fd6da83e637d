#include "ConcatenatedImage.h"

#include "block/ChainStatus.h"

#include <algorithm>

namespace e2kvm::img {

ConcatenatedImage::ConcatenatedImage(std::vector<std::unique_ptr<block::BlockDriver>> parts)
    : BlockDriver(parts.empty() ? std::string() : parts.front()->filename(), true),
      parts_(std::move(parts)) {
    for (const auto& part : parts_) {
        starts_.push_back(size_);
        size_ += part->size();
    }
}

size_t ConcatenatedImage::partAt(uint64_t offset, uint64_t* start) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
    size_t i = size_t(it - starts_.begin()) - 1;
    // Skip empty parts, which start where the next one does.
    while (i + 1 < parts_.size() && starts_[i + 1] <= offset)
        ++i;
    *start = starts_[i];
    return i;
}

void ConcatenatedImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    size_t done = 0;
    while (done < buf.size()) {
        uint64_t start = 0;
        const size_t i = partAt(offset + done, &start);
        const uint64_t in = offset + done - start;
        const size_t n = size_t(std::min<uint64_t>(buf.size() - done, parts_[i]->size() - in));
        parts_[i]->read(in, buf.subspan(done, n));
        done += n;
    }
}

block::LayerExtent ConcatenatedImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    uint64_t start = 0;
    const size_t i = partAt(offset, &start);
    const uint64_t in = offset - start;
    const block::ChainExtent c =
        block::chainStatus(*parts_[i], in, std::min(maxLength, parts_[i]->size() - in));
    block::LayerExtent e;
    e.length = c.length;
    e.kind = c.zero && !c.data ? block::Allocation::Zero : block::Allocation::Data;
    e.dataReadsAsZero = c.data && c.zero;
    return e;
}

void ConcatenatedImage::refuse(const char* what) const {
    block::throwError(EROFS, filename(), std::string(what) + ": a concatenation is read-only");
}

void ConcatenatedImage::doWrite(uint64_t, std::span<const uint8_t>, unsigned) {
    refuse("write");
}

void ConcatenatedImage::doWriteZeroes(uint64_t, uint64_t, unsigned) {
    refuse("write zeroes");
}

void ConcatenatedImage::doDiscard(uint64_t, uint64_t) {
    refuse("discard");
}

void ConcatenatedImage::doTruncate(uint64_t) {
    refuse("resize");
}

} // namespace e2kvm::img

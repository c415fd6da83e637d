#include "CompressFilter.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace e2kvm::block {

CompressFilter::CompressFilter(std::shared_ptr<BlockDriver> file)
    : BlockDriver(file->filename(), file->readOnly()), file_(std::move(file)) {
    if (!file_->supportsCompression() || file_->clusterSize() == 0)
        throw BlockError(ENOTSUP, "Compression is not supported for underlying format: " +
                                      file_->formatName());
}

void CompressFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file_->read(offset, buf);
}

void CompressFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    const uint64_t cs = file_->clusterSize();
    const uint64_t diskEnd = file_->size();
    const uint64_t end = offset + buf.size();
    std::vector<uint8_t> cluster(cs);
    std::lock_guard lock(writeMutex_);
    for (uint64_t start = offset - offset % cs; start < end; start += cs) {
        const uint64_t length = std::min(cs, diskEnd - start);
        std::span<uint8_t> whole(cluster.data(), size_t(length));
        const uint64_t from = std::max(start, offset), to = std::min(start + length, end);
        if (from != start || to != start + length)
            file_->read(start, whole); // the parts of the cluster the write leaves as they are
        std::memcpy(whole.data() + (from - start), buf.data() + (from - offset), size_t(to - from));
        file_->writeCompressed(start, whole);
    }
    if (writeFlags & WriteFua)
        file_->flush();
}

void CompressFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    file_->writeZeroes(offset, length, zeroFlags);
}

void CompressFilter::doDiscard(uint64_t offset, uint64_t length) {
    file_->discard(offset, length);
}

void CompressFilter::doFlush() {
    file_->flush();
}

LayerExtent CompressFilter::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return file_->layerStatus(offset, maxLength);
}

void CompressFilter::doTruncate(uint64_t newSize) {
    file_->truncate(newSize);
}

void CompressFilter::doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) {
    file_->writeCompressed(offset, data);
}

} // namespace e2kvm::block

#include "PassThroughFilter.h"

namespace e2kvm::block {

PassThroughFilter::PassThroughFilter(std::shared_ptr<BlockDriver> file)
    : BlockDriver(file->filename(), file->readOnly()), file_(std::move(file)) {}

void PassThroughFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file()->read(offset, buf);
}

void PassThroughFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf,
                                unsigned writeFlags) {
    file()->write(offset, buf, writeFlags);
}

void PassThroughFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    file()->writeZeroes(offset, length, zeroFlags);
}

void PassThroughFilter::doDiscard(uint64_t offset, uint64_t length) {
    file()->discard(offset, length);
}

void PassThroughFilter::doFlush() {
    file()->flush();
}

LayerExtent PassThroughFilter::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return file()->layerStatus(offset, maxLength);
}

void PassThroughFilter::doTruncate(uint64_t newSize) {
    file()->truncate(newSize);
}

void PassThroughFilter::doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) {
    file()->writeCompressed(offset, data);
}

} // namespace e2kvm::block

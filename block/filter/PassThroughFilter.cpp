#include "PassThroughFilter.h"

namespace e2kvm::block {

PassThroughFilter::PassThroughFilter(std::shared_ptr<BlockDriver> file)
    : BlockDriver(file->filename(), file->readOnly()), file_(std::move(file)) {}

void PassThroughFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file_->read(offset, buf);
}

void PassThroughFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf,
                                unsigned writeFlags) {
    file_->write(offset, buf, writeFlags);
}

void PassThroughFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    file_->writeZeroes(offset, length, zeroFlags);
}

void PassThroughFilter::doDiscard(uint64_t offset, uint64_t length) {
    file_->discard(offset, length);
}

void PassThroughFilter::doFlush() {
    file_->flush();
}

LayerExtent PassThroughFilter::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return file_->layerStatus(offset, maxLength);
}

void PassThroughFilter::doTruncate(uint64_t newSize) {
    file_->truncate(newSize);
}

void PassThroughFilter::doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) {
    file_->writeCompressed(offset, data);
}

} // namespace e2kvm::block

#include "BlkdebugRawFormat.h"

namespace e2kvm::block {

BlkdebugRawFormat::BlkdebugRawFormat(std::shared_ptr<BlockDriver> node)
    : BlockDriver(node->filename(), node->readOnly()), node_(std::move(node)),
      injector_(node_->blkdebug()) {}

void BlkdebugRawFormat::doRead(uint64_t offset, std::span<uint8_t> buf) {
    injector_->event(BlkdebugEvent::ReadAio);
    node_->read(offset, buf);
}

void BlkdebugRawFormat::doWrite(uint64_t offset, std::span<const uint8_t> buf,
                                unsigned writeFlags) {
    injector_->event(BlkdebugEvent::WriteAio);
    node_->write(offset, buf, writeFlags);
}

void BlkdebugRawFormat::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    node_->writeZeroes(offset, length, zeroFlags);
}

void BlkdebugRawFormat::doDiscard(uint64_t offset, uint64_t length) {
    node_->discard(offset, length);
}

void BlkdebugRawFormat::doFlush() {
    node_->flush();
}

LayerExtent BlkdebugRawFormat::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return node_->layerStatus(offset, maxLength);
}

void BlkdebugRawFormat::doTruncate(uint64_t newSize) {
    node_->truncate(newSize);
}

} // namespace e2kvm::block

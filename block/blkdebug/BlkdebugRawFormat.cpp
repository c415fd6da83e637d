#include "BlkdebugRawFormat.h"

namespace e2kvm::block {

BlkdebugRawFormat::BlkdebugRawFormat(std::shared_ptr<BlockDriver> node)
    : PassThroughFilter(node), injector_(node->blkdebug()) {}

void BlkdebugRawFormat::doRead(uint64_t offset, std::span<uint8_t> buf) {
    injector_->event(BlkdebugEvent::ReadAio);
    PassThroughFilter::doRead(offset, buf);
}

void BlkdebugRawFormat::doWrite(uint64_t offset, std::span<const uint8_t> buf,
                                unsigned writeFlags) {
    injector_->event(BlkdebugEvent::WriteAio);
    PassThroughFilter::doWrite(offset, buf, writeFlags);
}

} // namespace e2kvm::block

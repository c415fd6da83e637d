#include "BlkdebugImage.h"

#include "BlkdebugAlignedWrite.h"

namespace e2kvm::block {

BlkdebugImage::BlkdebugImage(std::shared_ptr<Blkdebug> injector, std::unique_ptr<BlockDriver> image)
    : BlockDriver(image->filename(), image->readOnly()), injector_(std::move(injector)),
      image_(std::move(image)) {}

void BlkdebugImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    injector_->check(BlkdebugIoType::Read, offset, buf.size());
    image_->read(offset, buf);
}

void BlkdebugImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    // With align=N, partial units are read, modified and written whole, as QEMU does.
    if (injector_->alignment() > 1 && !buf.empty()) {
        writeAlignedThrough(
            *injector_, offset, buf, injector_->alignment(),
            [this](uint64_t at, std::span<uint8_t> to) { doRead(at, to); },
            [this, writeFlags](uint64_t at, std::span<const uint8_t> from) {
                writeBelow(at, from, writeFlags);
            });
        return;
    }
    writeBelow(offset, buf, writeFlags);
}

void BlkdebugImage::writeBelow(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    injector_->event(BlkdebugEvent::Pwritev);
    injector_->check(BlkdebugIoType::Write, offset, buf.size());
    image_->write(offset, buf, writeFlags);
    injector_->event(BlkdebugEvent::PwritevDone);
}

void BlkdebugImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    injector_->event(BlkdebugEvent::PwritevZero);
    injector_->check(BlkdebugIoType::WriteZeroes, offset, length);
    image_->writeZeroes(offset, length, zeroFlags);
    injector_->event(BlkdebugEvent::PwritevDone);
}

void BlkdebugImage::doDiscard(uint64_t offset, uint64_t length) {
    injector_->check(BlkdebugIoType::Discard, offset, length);
    image_->discard(offset, length);
}

void BlkdebugImage::doFlush() {
    injector_->check(BlkdebugIoType::Flush, 0, 0);
    image_->flush();
}

LayerExtent BlkdebugImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    injector_->check(BlkdebugIoType::BlockStatus, offset, maxLength);
    return image_->layerStatus(offset, maxLength);
}

void BlkdebugImage::doTruncate(uint64_t newSize) {
    image_->truncate(newSize);
}

void BlkdebugImage::doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) {
    injector_->event(BlkdebugEvent::Pwritev);
    injector_->check(BlkdebugIoType::Write, offset, data.size());
    image_->writeCompressed(offset, data);
    injector_->event(BlkdebugEvent::PwritevDone);
}

} // namespace e2kvm::block

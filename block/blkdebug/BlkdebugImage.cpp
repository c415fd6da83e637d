#include "BlkdebugImage.h"

#include "BlkdebugAlignedWrite.h"

#include <algorithm>
#include <cstdint>
#include <vector>

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
    const Blkdebug::ZeroLimits& limits = injector_->zeroLimits();
    if (!limits.writeZeroAlignment && !limits.maxWriteZeroes) {
        writeZeroesBelow(offset, length, zeroFlags);
        return;
    }
    // As QEMU's block layer over blkdebug: a piece up to the first multiple of the alignment
    // (at most max-transfer long), then the aligned middle in pieces of at most
    // max-write-zero, then the tail. blkdebug refuses the pieces shorter than the alignment,
    // so they are written as data (zeros, at most max-transfer at a time).
    const uint64_t alignment =
        std::max<uint64_t>({limits.writeZeroAlignment, injector_->alignment(), 1});
    const uint64_t maxTransfer = limits.maxTransfer ? limits.maxTransfer : 32u << 20;
    uint64_t maxZeroes = limits.maxWriteZeroes ? limits.maxWriteZeroes : INT64_MAX;
    maxZeroes = std::max(alignment, maxZeroes / alignment * alignment);
    uint64_t head = offset % alignment;
    const uint64_t tail = (offset + length) % alignment;
    std::vector<uint8_t> zeros;
    while (length) {
        uint64_t piece = length;
        if (head) {
            piece = std::min({length, maxTransfer, alignment - head});
            head = (head + piece) % alignment;
        } else if (tail && piece > alignment) {
            piece -= tail;
        }
        piece = std::min(piece, maxZeroes);
        if (piece < alignment) {
            piece = std::min(piece, maxTransfer);
            zeros.assign(size_t(piece), 0);
            writeBelow(offset, zeros, 0);
        } else {
            writeZeroesBelow(offset, piece, zeroFlags);
        }
        offset += piece;
        length -= piece;
    }
}

void BlkdebugImage::writeZeroesBelow(uint64_t offset, uint64_t length, unsigned zeroFlags) {
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

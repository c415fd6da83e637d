#include "RawWindow.h"

#include "block/ImageOpen.h"

#include <string>

namespace e2kvm::block {

RawWindow::RawWindow(std::shared_ptr<BlockDriver> file, uint64_t offset,
                     std::optional<uint64_t> size)
    : BlockDriver(file->filename(), file->readOnly()), file_(std::move(file)), offset_(offset),
      size_(size) {
    checkWindow(offset_, size_);
}

void RawWindow::reposition(uint64_t offset, std::optional<uint64_t> size) {
    checkWindow(offset, size);
    offset_ = offset;
    size_ = size;
}

void RawWindow::checkWindow(uint64_t offset, std::optional<uint64_t> size) const {
    const uint64_t fileSize = file_->size();
    if (offset > fileSize)
        throw BlockError(EINVAL, "Offset (" + std::to_string(offset) +
                                     ") cannot be greater than size of the containing file (" +
                                     std::to_string(fileSize) + ")");
    if (size && fileSize - offset < *size)
        throw BlockError(EINVAL, "The sum of offset (" + std::to_string(offset) + ") and size (" +
                                     std::to_string(*size) +
                                     ") has to be smaller or equal to the  actual size of the "
                                     "containing file (" +
                                     std::to_string(fileSize) + ")");
    if (size && *size % 512 != 0)
        throw BlockError(EINVAL, "Specified size is not multiple of 512");
}

uint64_t RawWindow::byteSize(const std::string& key, const std::string& text) {
    try {
        return parseSize(text);
    } catch (const BlockError&) {
        throw BlockError(EINVAL, "Parameter '" + key +
                                     "' expects a non-negative number below 2^64\n"
                                     "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                                     "giga-, tera-, peta-\nand exabytes, respectively.");
    }
}

uint64_t RawWindow::size() const {
    if (size_)
        return *size_;
    const uint64_t fileSize = file_->size();
    return fileSize > offset_ ? fileSize - offset_ : 0;
}

void RawWindow::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file_->read(offset_ + offset, buf);
}

void RawWindow::growFileTo(uint64_t end) {
    if (!size_ && end > file_->size())
        file_->truncate(end);
}

void RawWindow::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    growFileTo(offset_ + offset + buf.size());
    file_->write(offset_ + offset, buf, writeFlags);
}

void RawWindow::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    growFileTo(offset_ + offset + length);
    file_->writeZeroes(offset_ + offset, length, zeroFlags);
}

void RawWindow::doDiscard(uint64_t offset, uint64_t length) {
    file_->discard(offset_ + offset, length);
}

void RawWindow::doFlush() {
    file_->flush();
}

LayerExtent RawWindow::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return file_->layerStatus(offset_ + offset, maxLength);
}

void RawWindow::doTruncate(uint64_t newSize) {
    if (size_)
        throw BlockError(ENOTSUP, "Cannot resize fixed-size raw disks");
    file_->truncate(offset_ + newSize);
}

} // namespace e2kvm::block

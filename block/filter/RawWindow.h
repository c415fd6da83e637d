#pragma once
// RawWindow: QEMU's raw format with the offset and size options: the disk is the part of its
// file that starts at `offset` and is `size` bytes long (to the end of the file without a
// size). Requests are moved by the offset and must stay inside the window; a window with a
// fixed size cannot be resized, one without grows and shrinks its file.
#include "block/BlockDriver.h"

#include <cerrno>
#include <memory>
#include <optional>

namespace e2kvm::block {

class RawWindow final : public BlockDriver {
public:
    // Checks the window against the file's size as QEMU does (BlockError(EINVAL) with its
    // words): the offset within the file, offset + size within it, size a multiple of 512.
    RawWindow(std::shared_ptr<BlockDriver> file, uint64_t offset, std::optional<uint64_t> size);
    // Moves the window (qemu-io's reopen -o offset=,size=), checked as on open. Not while
    // requests are in flight.
    void reposition(uint64_t offset, std::optional<uint64_t> size);
    // The value of the option `key` (offset, size): QEMU's byte sizes ("512", "1k"), with its
    // words for anything else.
    static uint64_t byteSize(const std::string& key, const std::string& text);

    std::string formatName() const override { return "raw"; }
    uint64_t size() const override;
    uint64_t allocatedBytes() const override { return file_->allocatedBytes(); }
    bool unmapPunchesHostFile() const override { return file_->unmapPunchesHostFile(); }
    Blkdebug* blkdebug() const override { return file_->blkdebug(); }

protected:
    // As QEMU's raw driver: a request past a fixed size fails with ENOSPC.
    int pastEndErrno() const override { return size_ ? ENOSPC : EINVAL; }
    // Without a fixed size a write past the end grows the file, as QEMU's raw passes it on.
    bool writesGrowDisk() const override { return !size_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    // Throws unless the window lies within the file, as QEMU checks it.
    void checkWindow(uint64_t offset, std::optional<uint64_t> size) const;
    // Without a fixed size: grows the file to `end` bytes if it is shorter.
    void growFileTo(uint64_t end);

    std::shared_ptr<BlockDriver> file_;
    uint64_t offset_;
    std::optional<uint64_t> size_; // none: to the end of the file
};

} // namespace e2kvm::block

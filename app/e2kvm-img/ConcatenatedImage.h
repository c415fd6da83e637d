#pragma once
// ConcatenatedImage: several images read one after another as one disk, what `qemu-img
// convert` copies when given more than one source. Read-only; the status of a range is that of
// the part holding it through the part's whole backing chain (data or zero, never
// unallocated: the concatenation has no backing file).
#include "block/BlockDriver.h"

#include <memory>
#include <vector>

namespace e2kvm::img {

class ConcatenatedImage final : public block::BlockDriver {
public:
    explicit ConcatenatedImage(std::vector<std::unique_ptr<block::BlockDriver>> parts);

    std::string formatName() const override { return "concatenation"; }
    uint64_t size() const override { return size_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override {}
    block::LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    // The part holding `offset` (< size()) and where that part starts.
    size_t partAt(uint64_t offset, uint64_t* start) const;
    [[noreturn]] void refuse(const char* what) const;

    std::vector<std::unique_ptr<block::BlockDriver>> parts_;
    std::vector<uint64_t> starts_;
    uint64_t size_ = 0;
};

} // namespace e2kvm::img

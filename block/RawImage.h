#pragma once
// RawImage: a disk image that is the disk's bytes, one to one, in a host file. Holes in a
// sparse file are reported as zero extents and made with punch-hole / zero-range.
#include "BlockDriver.h"
#include "HostFile.h"
#include "ImageOpen.h"

namespace e2kvm::block {

class RawImage final : public BlockDriver {
public:
    RawImage(const std::string& path, bool readOnly);
    static void create(const std::string& path, const CreateOptions& options);

    std::string formatName() const override { return "raw"; }
    uint64_t size() const override;
    uint64_t allocatedBytes() const override { return file_.allocatedBytes(); }
    int directReadFd() const override { return file_.fd(); }
    HostFile& file() { return file_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    HostFile file_;
};

} // namespace e2kvm::block

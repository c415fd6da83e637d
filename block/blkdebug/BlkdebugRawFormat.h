#pragma once
// BlkdebugRawFormat: the raw format over a blkdebug node (blockdev-add driver=raw with a
// blkdebug node as its file). Requests pass to the node unchanged; a read first raises
// read_aio and a write write_aio on the node's injector, as QEMU's raw driver raises them on
// its file, so that inject-error rules on those events fail the requests that follow.
#include "Blkdebug.h"
#include "block/filter/PassThroughFilter.h"

#include <memory>

namespace e2kvm::block {

class BlkdebugRawFormat final : public PassThroughFilter {
public:
    // `node`: a blkdebug node (its blkdebug() is not null).
    explicit BlkdebugRawFormat(std::shared_ptr<BlockDriver> node);

    std::string formatName() const override { return "raw"; }
    BlockDriver* backing() const override { return nullptr; } // raw has none
    bool hasDriverInfo() const override { return file()->hasDriverInfo(); }
    std::string dataFilename() const override { return file()->dataFilename(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;

private:
    Blkdebug* injector_; // the node's
};

} // namespace e2kvm::block

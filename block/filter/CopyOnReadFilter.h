#pragma once
// CopyOnReadFilter: QEMU's copy-on-read filter node (driver=copy-on-read). A read passes to
// the node below; whatever part of it that node's top layer does not hold (it came from the
// backing chain, or reads as zero) is then written into the top layer, so the next read finds
// it there: data as data, zeros as a zero write. Writes and everything else pass through.
#include "PassThroughFilter.h"

namespace e2kvm::block {

class CopyOnReadFilter final : public PassThroughFilter {
public:
    explicit CopyOnReadFilter(std::shared_ptr<BlockDriver> file);
    std::string formatName() const override { return "copy-on-read"; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
};

} // namespace e2kvm::block

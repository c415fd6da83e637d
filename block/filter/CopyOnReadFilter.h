#pragma once
// CopyOnReadFilter: QEMU's copy-on-read filter node (driver=copy-on-read). A read passes to
// the node below; whatever part of it that node's top layer does not hold (it came from the
// backing chain, or reads as zero) is then written into the top layer, so the next read finds
// it there: data as data, zeros as a zero write. Writes and everything else pass through.
// With a bottom node (option "bottom"), only what the backing chain holds from the top
// layer's backing file down to that node (included) is copied; what is found below it, or
// nowhere, is read and left where it is.
#include "PassThroughFilter.h"

namespace e2kvm::block {

class CopyOnReadFilter final : public PassThroughFilter {
public:
    // `bottom`: a layer of `file`'s backing chain (or `file` itself: nothing is copied), or
    // null to copy everything; BlockError ("Bottom node 'NAME' not found") if it is not in
    // the chain.
    explicit CopyOnReadFilter(std::shared_ptr<BlockDriver> file,
                              std::shared_ptr<BlockDriver> bottom = nullptr,
                              const std::string& bottomName = {});
    std::string formatName() const override { return "copy-on-read"; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;

private:
    // Whether [offset, offset + *length) is held by a layer from the top layer's backing
    // file down to the bottom node; *length is cut to where that answer holds.
    bool heldAboveBottom(uint64_t offset, uint64_t* length) const;

    std::shared_ptr<BlockDriver> bottom_;
};

} // namespace e2kvm::block

#pragma once
// ChainStatus: the status of a range through a whole backing chain, as `qemu-img map`,
// NBD base:allocation and qemu:allocation-depth report it.
#include "BlockDriver.h"

namespace e2kvm::block {

struct ChainExtent {
    uint64_t length = 0;
    bool data = false;    // reads from stored data
    bool zero = false;    // reads as zero
    bool present = false; // allocated in some layer of the chain
    int depth = 0;        // layer it was found in (0 = top); for absent ranges the last layer
    std::optional<uint64_t> hostOffset;
    const BlockDriver* layer = nullptr; // layer holding hostOffset
};

ChainExtent chainStatus(BlockDriver& top, uint64_t offset, uint64_t maxLength);

} // namespace e2kvm::block

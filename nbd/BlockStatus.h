#pragma once
// Block status of an export for one metadata context, as the extents a BLOCK_STATUS reply
// carries: clipped to the request, adjacent equal extents merged, at most maxExtents.
#include "nbd/Export.h"
#include "nbd/MetaContexts.h"

#include <cstdint>
#include <vector>

namespace e2kvm::nbd {

struct StatusExtent {
    uint32_t length = 0;
    uint32_t flags = 0;
};

// Throws block::BlockError when the image cannot be queried.
std::vector<StatusExtent> contextExtents(const Export& exp, const MetaContext& ctx, uint64_t offset,
                                         uint32_t length, size_t maxExtents);

// How a READ range splits into stored data and ranges known to read as zero (merged).
struct ReadSegment {
    uint64_t offset = 0;
    uint64_t length = 0;
    bool zero = false;
    // The whole segment lives contiguously in this host file descriptor at hostOffset (see
    // BlockDriver::directReadFd), so it may be sent without copying; -1 if not.
    int hostFd = -1;
    uint64_t hostOffset = 0;
};
std::vector<ReadSegment> readSegments(block::BlockDriver& image, uint64_t offset, uint64_t length);

} // namespace e2kvm::nbd

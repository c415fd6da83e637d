#pragma once
// QuorumOpen: a driver=quorum node from QEMU's options for it — children.N.* (each child any
// image's options), vote-threshold, blkverify, rewrite-corrupted, read-pattern — checked in
// QEMU's order with QEMU's words, and named as QEMU names it (json:{...} of its options).
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/quorum/QuorumImage.h"

#include <memory>

namespace e2kvm::block::quorum {

// The settings the options give; throws BlockError(EINVAL) as QEMU refuses them.
// `childCount`: how many children the options list.
QuorumSettings quorumSettings(const DriverOptions& options, size_t childCount);

// The number of children (children.0 ... children.N-1); throws when they are no array.
size_t quorumChildCount(const DriverOptions& options);

// The node. `open` applies to the children (read-only, locking); a format over the node is
// the caller's business, except that open.format "raw" makes the node report raw.
std::unique_ptr<QuorumImage> openQuorumNode(const DriverOptions& options, const OpenOptions& open);

} // namespace e2kvm::block::quorum

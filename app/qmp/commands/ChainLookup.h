#pragma once
// ChainLookup: what the backing-chain commands (snapshots, block-stream, block-commit,
// change-backing-file) share: the layers of a node's chain with the table nodes they are,
// finding a layer by node name or file name as QEMU does, moving drives to a new active
// layer, and letting go of the table nodes a job dropped from a chain.
#include "app/qmp/QmpContext.h"
#include "block/BlockDriver.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::qmp {

struct ChainLayer {
    std::shared_ptr<block::BlockDriver> image;
    std::shared_ptr<vm::BlockNode> node; // the table node that is this layer, if any
};

// The chain from `top` (index 0) down to the last backing file. With `throughFilters`, a filter
// node (throttle, copy-on-read: block::PassThroughFilter) is a layer of its own followed by the
// node it filters, as QEMU's chains go through filters (bdrv_filter_or_cow_bs); otherwise the
// chain ends at it.
std::vector<ChainLayer> chainOf(QmpContext& ctx, const std::shared_ptr<block::BlockDriver>& top,
                                bool throughFilters = false);
// The index of the layer called `name`: by node name, or (byFile) by file name as given or
// as the same file; nullopt if none.
std::optional<size_t> findLayer(const std::vector<ChainLayer>& chain, const std::string& name,
                                bool byFile);
// The drive id of a node a drive uses, if any.
std::optional<std::string> driveOfNode(QmpContext& ctx, const std::string& nodeName);
// Whether a drive reads `image` (as its node or in that node's chain), or a user other than an
// overlay holds its node: QEMU's "in use" for an overlay to be.
bool layerInUse(QmpContext& ctx, const vm::BlockNode& node);
// Every drive on `from` uses `to` from now on (devices' handles are retargeted).
void moveDrives(QmpContext& ctx, const vm::BlockNode& from, const vm::BlockNode& to);
// QEMU's job id rule (a letter, then letters, digits, '-', '.', '_').
bool wellFormedJobId(const std::string& id);
// The table nodes among `dropped` (layers a job took out of a chain) no longer count as the
// backing of the layer above them; the context removes them when the job ends.
void releaseDroppedLayers(vm::BlockNodeTable& nodes, const std::vector<ChainLayer>& dropped,
                          const std::string& aboveNode);

} // namespace e2kvm::qmp

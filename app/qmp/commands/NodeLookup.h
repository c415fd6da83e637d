#pragma once
// NodeLookup: what several command groups share: finding a node with QEMU's error wording,
// its bitmap catalog, and block-layer errors turned into QMP errors.
#include "app/qmp/Json.h"
#include "app/qmp/QmpContext.h"
#include "block/InternalSnapshots.h"
#include "block/bitmap/BitmapCatalog.h"

#include <memory>
#include <string>

namespace e2kvm::qmp {

// "Cannot find device='X' nor node-name='X'" unless the node exists.
std::shared_ptr<vm::BlockNode> lookupNode(QmpContext& ctx, const std::string& name);
// QEMU's op blocker: throws "Node 'SHOWN' is busy: block device is in use by block job: TYPE"
// when a job holds node `nodeName`; `shown` is the name the client gave for it.
void refuseIfJobBusy(QmpContext& ctx, const std::string& nodeName, const std::string& shown);
// The node's bitmaps; GenericError if its format keeps none.
block::BitmapCatalog& bitmapCatalog(const vm::BlockNode& node);
// A block-layer message without the "file: " prefix the block layer adds.
std::string blockMessage(const vm::BlockNode& node, const std::exception& e);
// SnapshotInfo of an internal snapshot (query-block's "snapshots", the answer of
// blockdev-snapshot-delete-internal-sync).
Json snapshotInfo(const block::InternalSnapshot& s);
// BlockDeviceInfo of query-named-block-nodes / query-block "inserted".
Json blockDeviceInfo(QmpContext& ctx, const vm::BlockNode& node);

} // namespace e2kvm::qmp

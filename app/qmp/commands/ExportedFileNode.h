#pragma once
// ExportedFileNode: what an export (NBD or FUSE) of a protocol-only file node (blockdev-add
// {driver: "file"}) exports: the file opened raw as a table node of the file node's name.
#include "app/qmp/QmpContext.h"

#include <string>

namespace e2kvm::qmp {

// Opens file node `nodeName` as a table node, with the image locks of QEMU's export
// (consistent read, write if `writable` and the file node is not read-only, resize not
// shared), unless it is no file node or is open already. It stays open until the file node
// is deleted. Returns whether it was opened here. Throws QmpError if the file cannot be
// opened.
bool openExportedFileNode(QmpContext& ctx, const std::string& nodeName, bool writable);

} // namespace e2kvm::qmp

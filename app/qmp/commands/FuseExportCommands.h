#pragma once
// FuseExportCommands: block-export-add {type: "fuse"} (QEMU's BlockExportOptionsFuse), which
// mounts a node as a regular file through vm::FuseExportTable. block-export-del and
// query-block-exports (commands/NbdCommands) cover FUSE exports too.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"

namespace e2kvm::qmp {

// The rest of block-export-add's arguments once `type` ("fuse") is read. Throws QmpError.
void addFuseExport(QmpContext& ctx, QmpArgs& args);

} // namespace e2kvm::qmp

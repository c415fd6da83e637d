#pragma once
// Qcow2Check: `qemu-img check` for qcow2 — recounts every reference from the metadata,
// compares with the stored refcounts, and repairs leaks / corruptions as QEMU does.
#include "block/HostFile.h"
#include "block/ImageCheck.h"

namespace e2kvm::block::qcow2 {

// `file` must be writable when repair != None.
CheckResult checkQcow2(HostFile& file, RepairMode repair);

} // namespace e2kvm::block::qcow2

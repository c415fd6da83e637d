#pragma once
// The two things block-job commands (drive-backup, drive-mirror, block-stream, block-commit)
// read alike: QMP's BlockdevOnError names, and the target image drive-backup and drive-mirror
// create with mode=absolute-paths.
#include "app/vmcore/BlockNodeTable.h"
#include "block/job/Job.h"

#include <string>

namespace e2kvm::qmp {

// "report", "ignore", "enospc", "stop", "auto" (the caller checked the name).
block::ErrorPolicy errorPolicyFromName(const std::string& name);

// Creates `target` in `format` (qcow2 or raw) with the size of `source`, as QEMU creates a
// drive-backup or drive-mirror target: over the source's backing file for sync=top, over the
// source for sync=none. Throws QmpError with QEMU's wording.
void createJobTarget(const vm::BlockNode& source, const std::string& target,
                     const std::string& format, const std::string& sync);

} // namespace e2kvm::qmp

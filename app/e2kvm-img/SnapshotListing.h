#pragma once
// The internal snapshots of an image as qemu-img shows them: the "Snapshot list:" table of
// `info` and `snapshot -l` (columns ID, TAG, VM SIZE, DATE, VM CLOCK, ICOUNT; local time) and
// the "snapshots" member of `info --output=json`.
#include "app/json/Json.h"
#include "block/InternalSnapshots.h"

#include <string>
#include <vector>

namespace e2kvm::img {

// "Snapshot list:\n", the column header and one line per snapshot; "" if there are none.
std::string snapshotTable(const std::vector<block::InternalSnapshot>& snapshots);
json::Json snapshotsJson(const std::vector<block::InternalSnapshot>& snapshots);

} // namespace e2kvm::img

#pragma once
// SnapshotTableText: the table of internal snapshots as QEMU prints it for people, in qemu-img's
// "Snapshot list:" and the monitor's "info snapshots": the column header (ID, TAG, VM SIZE, DATE,
// VM CLOCK, ICOUNT) and one row a snapshot (dates in local time).
#include "block/InternalSnapshots.h"

#include <string>

namespace e2kvm::block {

std::string snapshotTableHeader();
// One row; `id` is what the ID column shows (the snapshot's id, or "--" where ids differ).
std::string snapshotTableRow(const InternalSnapshot& s, const std::string& id);

} // namespace e2kvm::block

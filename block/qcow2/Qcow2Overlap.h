#pragma once
// The qcow2 metadata structures a write must never land on, and which of them are checked, as
// QEMU's overlap-check option chooses them ("none", "constant", "cached", "all", or one
// on/off switch per structure). A write that would overwrite one of them means the image is
// corrupt; the driver refuses it and marks the image corrupt (Qcow2Driver::signalCorruption).
#include "block/ImageOptions.h"

#include <cstdint>
#include <string>

namespace e2kvm::block::qcow2 {

// One bit per structure, in the order QEMU reports the first one a write overlaps.
enum Qcow2Metadata : unsigned {
    kMetaMainHeader = 1u << 0,
    kMetaActiveL1 = 1u << 1,
    kMetaActiveL2 = 1u << 2,
    kMetaRefcountTable = 1u << 3,
    kMetaRefcountBlock = 1u << 4,
    kMetaSnapshotTable = 1u << 5,
    kMetaInactiveL1 = 1u << 6,
    kMetaInactiveL2 = 1u << 7,
    kMetaBitmapDirectory = 1u << 8,
};
inline constexpr unsigned kMetaCount = 9;

// The structures each overlap-check template checks: "constant" costs nothing (the header
// and the tables whose place the header records), "cached" (QEMU's default) adds what is in
// memory anyway, "all" also reads the snapshots' L1 tables to find their L2 tables.
inline constexpr unsigned kOverlapNone = 0;
inline constexpr unsigned kOverlapConstant = kMetaMainHeader | kMetaActiveL1 | kMetaRefcountTable |
                                             kMetaSnapshotTable | kMetaBitmapDirectory;
inline constexpr unsigned kOverlapCached =
    kOverlapConstant | kMetaActiveL2 | kMetaRefcountBlock | kMetaInactiveL1;
inline constexpr unsigned kOverlapAll = kOverlapCached | kMetaInactiveL2;

// The name a corruption message gives the structure ("active L1 table", "qcow2_header").
const char* metadataName(Qcow2Metadata structure);

// The checks the qcow2 options choose: overlap-check or overlap-check.template (a template
// name), then overlap-check.main-header, .active-l1, ... (on/off) for single structures; the
// default is "cached". Throws BlockError(EINVAL) with QEMU's message for a wrong value.
unsigned overlapChecksFromOptions(const DriverOptions& options);

} // namespace e2kvm::block::qcow2

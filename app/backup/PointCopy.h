#pragma once
// copyRanges: the engine that fills a restore point: several threads (one per reader of the
// view) read chunks of the chosen ranges and write them to the point's qcow2 at the same
// offsets. Zero data is not stored as data: skipped in a full point (it reads as zero
// anyway), written as zero clusters in an incremental one (the backing file has old data).
// Data may be stored compressed.
#include "app/backup/BackupSource.h"
#include "block/BlockDriver.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace e2kvm::backup {

struct CopyTotals {
    uint64_t dataBytes = 0; // written as data
    uint64_t zeroBytes = 0; // written as zeroes (only with zeroesMatter)
};

struct PointWrites {
    // The target has a backing file, so zero ranges must be written as zeroes.
    bool zeroesMatter = false;
    // Whole data clusters are written compressed (each worker compresses its own, so the
    // work spreads over the readers' threads); the pieces of a cluster a range only touches
    // are written as they are.
    bool compress = false;
};

// `advance` gets bytes of ranges done (from any thread, never concurrently).
CopyTotals copyRanges(SourceView& view, block::BlockDriver& target,
                      const std::vector<ByteRange>& ranges, PointWrites writes,
                      const std::function<void(uint64_t)>& advance,
                      const std::atomic<bool>* cancel);

// The part of `wanted` (sorted, disjoint) inside `allocation` with each piece marked zero where
// the allocation says it reads as zero.
std::vector<ByteRange> intersect(const std::vector<ByteRange>& wanted,
                                 const std::vector<ByteRange>& allocation);

} // namespace e2kvm::backup

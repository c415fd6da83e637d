#pragma once
// BlockCopy: copies chosen clusters of a source image to the same offsets of a target image,
// each at most once, from any number of threads. It is the engine of a point in time: a backup
// job copies in the background, and as the source's write interceptor it copies the old
// contents of a cluster before the first change to it (copy-before-write). As the target's read
// guard it holds back a change to the source while a read of the target may still look at that
// cluster of the source through the target's backing file (a fleecing overlay).
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace e2kvm::block {

// A copy step failed: reading the source (write == false) or writing the target.
class CopyFailure : public BlockError {
public:
    CopyFailure(const BlockError& cause, bool write) : BlockError(cause), write_(write) {}
    bool write() const { return write_; }

private:
    bool write_;
};

class BlockCopy final : public WriteInterceptor, public ReadGuard {
public:
    // `clusterSize`: the unit of copying (a power of two, at least the target's cluster size).
    // Nothing is to be copied until mark() says so. `compress`: data is written to the target
    // compressed, one target cluster at a time (the target must support compression).
    BlockCopy(std::shared_ptr<BlockDriver> source, std::shared_ptr<BlockDriver> target,
              uint64_t clusterSize, bool compress = false);

    uint64_t clusterSize() const { return clusterSize_; }
    uint64_t diskSize() const { return diskSize_; }
    BlockDriver& source() const { return *source_; }
    BlockDriver& target() const { return *target_; }

    // Marks the clusters overlapping a range (or those of a bitmap's dirty granules) as to be
    // copied. Call before the copy is made active (ChangesPaused).
    void markAll();
    void mark(uint64_t offset, uint64_t length);
    void markDirty(const DirtyBitmap& bitmap);
    // Bytes in clusters still to be copied (the last cluster clipped to the disk).
    uint64_t remainingBytes() const;
    // Whether the cluster holding `offset` was still to be copied.
    bool pending(uint64_t offset) const;

    // Copies every cluster of [offset, offset+length) that is still to be copied, waiting for
    // copies of it that other threads are making. Returns the bytes this call copied. Throws
    // CopyFailure (the clusters stay to be copied).
    uint64_t copy(uint64_t offset, uint64_t length);
    // The first offset at or after `from` whose cluster is still to be copied, if any.
    std::optional<uint64_t> nextPending(uint64_t from) const;
    // The end of the run of clusters still to be copied that starts at `from`.
    uint64_t pendingRunEnd(uint64_t from) const;

    // Stops copying before writes: later changes to the source pass unhindered (the point in
    // time is given up: a cancelled job).
    void deactivate();
    // Told about every byte copied (by any thread), e.g. for a job's progress.
    void setOnCopied(std::function<void(uint64_t bytes)> cb);
    // Told when a copy before a write failed: the write fails with the same error.
    void setOnCopyError(std::function<void(const BlockError&)> cb);

    // WriteInterceptor (of the source): copies the old contents of the range first.
    void beforeChange(uint64_t offset, uint64_t length) override;
    // ReadGuard (of the target): while a read of the target is in flight, changes to the
    // clusters it covers wait.
    void beginRead(uint64_t offset, uint64_t length) override;
    void endRead(uint64_t offset, uint64_t length) override;
    // A read of the point in time (snapshot-access) of the cluster(s) of [offset, offset+length):
    // waits for copies of them in flight, then returns true if one is still to be copied (its
    // point in time is on the source: read it there, then call endRead, changes to it wait
    // meanwhile) or false (every one is on the target already).
    bool beginSnapshotRead(uint64_t offset, uint64_t length);

private:
    struct Range {
        uint64_t begin, end; // byte offsets, cluster-aligned (end clipped to the disk)
        bool overlaps(uint64_t b, uint64_t e) const { return begin < e && b < end; }
    };
    bool overlapsAny(const std::vector<Range>& ranges, uint64_t b, uint64_t e) const;
    // Both count in `written` the bytes from `offset` on that reached the target.
    void copyData(uint64_t offset, uint64_t length, uint64_t& written);
    void copyCompressed(uint64_t offset, uint64_t length, uint64_t& written);
    uint64_t copyRange(uint64_t offset, uint64_t length, bool waitForReaders);

    std::shared_ptr<BlockDriver> source_, target_;
    const uint64_t clusterSize_;
    const uint64_t diskSize_;
    const bool compress_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    DirtyBitmap toCopy_;         // clusters still to be copied
    std::vector<Range> copying_; // clusters being copied now
    std::vector<Range> reading_; // target reads in flight (one entry per read)
    std::atomic<bool> active_{true};
    std::function<void(uint64_t)> onCopied_;
    std::function<void(const BlockError&)> onCopyError_;
};

} // namespace e2kvm::block

#pragma once
// MirrorJob: QEMU's mirror block job. It copies the source to the target (all of it, only its
// top layer, or nothing: sync full, top, none) while a dirty bitmap of its own on the source
// records every change made meanwhile, and copies those ranges again. Once nothing is left to
// copy it is ready and keeps the target in sync; complete ends it with a pivot (the callback
// given moves the source's users to the target), a cancel without force ends it without one.
// Ranges that read as zeros or are not allocated become zero writes or discards on the target,
// as in QEMU, so that they stay sparse there.
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyBitmapRecorder.h"
#include "block/job/Job.h"

#include <functional>
#include <memory>
#include <string>

namespace e2kvm::block {

enum class MirrorSync { Full, Top, None };

struct MirrorSpec {
    std::string id;
    std::shared_ptr<BlockDriver> source, target;
    MirrorSync sync = MirrorSync::Full;
    uint64_t granularity = 0; // bytes, power of two; 0: the target's cluster (4 KiB - 64 KiB)
    uint64_t bufSize = 0;     // bytes copied at most in one step; 0: 16 MiB
    uint64_t speed = 0;
    ErrorPolicy onSourceError = ErrorPolicy::Report, onTargetError = ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
    // Sync full onto an image that may hold data: the target is zeroed first (when it can
    // deallocate zero ranges: `targetUnmaps`), else every range of the source is copied.
    bool zeroTarget = false;
    bool targetUnmaps = false;
    bool unmap = true; // zero ranges may be deallocated on the target
    // On complete, after the job's work: makes every user of the source use the target. It
    // must call `catchUp` while no change can reach the source any more (the last changes are
    // copied then), with true if it holds the source's changes itself (a ChangesPaused).
    std::function<void(const std::function<void(bool sourceHeld)>& catchUp)> pivot;
    // Before a pivot: throws (its text the job's error) if the source's users cannot be moved
    // onto the target, which fails the job instead (QEMU's mirror fails to replace the node).
    std::function<void()> checkPivot;
};

class MirrorJob final : public Job {
public:
    // Throws std::runtime_error for a spec that cannot work (read-only target, the source
    // itself); sizes that differ fail the job once it runs, as in QEMU.
    explicit MirrorJob(MirrorSpec spec);
    ~MirrorJob() override;

    const MirrorSpec& spec() const { return spec_; }
    // The granularity in use (what query-named-block-nodes shows for the job's bitmap).
    uint64_t granularity() const { return granularity_; }

protected:
    void run() override;
    void prepare() override;
    void commit() override;
    void clean() override;
    void cancelTargetRequests() override;
    bool softCancels() const override { return true; }
    // QEMU's mirror starts without the drained pause a backup has.
    bool drainsAtStart() const override { return false; }

private:
    void markInitialDirty();
    void zeroTarget();
    // Copies one dirty run starting at `offset` (at most bufSize; whole target clusters when
    // they are larger than the granularity); returns the bytes done, and where it ended.
    uint64_t copyStep(uint64_t offset, uint64_t* stepEnd);
    // Copies every dirty range at once (the final catch-up of a pivot).
    void copyAllDirty();
    // How [offset, offset+length) reads on the source through its whole chain: data, zeros or
    // (no layer has it and there is nothing below) unallocated; `length` is cut to one kind.
    Allocation chainStatus(uint64_t offset, uint64_t& length);

    MirrorSpec spec_;
    // The target for cancelTargetRequests() (spec_.target is let go of on the job's thread).
    const std::weak_ptr<BlockDriver> cancelTarget_;
    uint64_t granularity_ = 0;
    std::shared_ptr<DirtyBitmap> dirty_;
    std::shared_ptr<DirtyBitmapRecorder> recorder_;
    uint64_t cursor_ = 0;
    uint64_t cowCluster_ = 0; // the target's cluster when it has a backing file
    bool sourceHeld_ = false; // the catch-up runs under the pivot's ChangesPaused
    bool attached_ = false;
};

} // namespace e2kvm::block

#include "MirrorJob.h"

#include "block/BlockError.h"
#include "block/InFlightRequests.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <vector>

namespace e2kvm::block {

namespace {
constexpr uint64_t kDefaultBufSize = uint64_t{16} << 20;
// How long a ready job with nothing to copy sleeps before it looks at the bitmap again.
constexpr std::chrono::milliseconds kReadyPoll{20};

// QEMU's default bitmap granularity: the target's cluster size within [4 KiB, 64 KiB], else
// 64 KiB.
uint64_t defaultGranularity(const BlockDriver& target) {
    uint64_t cluster = target.clusterSize();
    if (cluster == 0)
        return 65536;
    return std::clamp<uint64_t>(cluster, 4096, 65536);
}

// A failed read of the source or write of the target (which policy applies).
struct StepFailure {
    int errnoValue;
    bool write;
};
} // namespace

MirrorJob::MirrorJob(MirrorSpec spec)
    : Job(spec.id, "mirror", spec.autoFinalize, spec.autoDismiss), spec_(std::move(spec)),
      cancelTarget_(spec_.target) {
    if (spec_.source == spec_.target)
        throw std::runtime_error("Can't mirror node into itself");
    if (spec_.target->readOnly())
        throw std::runtime_error("Target '" + spec_.target->filename() + "' is read-only");
    granularity_ = spec_.granularity ? spec_.granularity : defaultGranularity(*spec_.target);
    if (spec_.bufSize == 0)
        spec_.bufSize = kDefaultBufSize;
    // A step copies whole granules.
    spec_.bufSize = std::max(spec_.bufSize - spec_.bufSize % granularity_, granularity_);
    if (spec_.target->backing())
        cowCluster_ = spec_.target->clusterSize();
    dirty_ = std::make_shared<DirtyBitmap>(spec_.source->size(), granularity_);
    // From now on every change of the source is recorded (and copied again).
    recorder_ = std::make_shared<DirtyBitmapRecorder>(dirty_);
    spec_.source->addWriteObserver(recorder_);
    attached_ = true;
    presetSpeed(spec_.speed);
}

MirrorJob::~MirrorJob() {
    joinThread();
    clean();
}

Allocation MirrorJob::chainStatus(uint64_t offset, uint64_t& length) {
    for (BlockDriver* layer = spec_.source.get(); layer; layer = layer->backing()) {
        // Past the end of a shorter backing file the disk reads as zeros.
        if (offset >= layer->size())
            return Allocation::Zero;
        LayerExtent e = layer->layerStatus(offset, length);
        length = std::min(length, e.length);
        if (e.kind == Allocation::Zero || (e.kind == Allocation::Data && e.dataReadsAsZero))
            return Allocation::Zero;
        if (e.kind == Allocation::Data)
            return Allocation::Data;
        if (!layer->backing() && layer->unallocatedReadsAsZero())
            return Allocation::Zero;
    }
    return Allocation::Unallocated;
}

void MirrorJob::markInitialDirty() {
    if (spec_.sync == MirrorSync::None)
        return;
    BlockDriver& src = *spec_.source;
    for (uint64_t pos = 0, end = src.size(); pos < end;) {
        uint64_t length = end - pos;
        bool allocated = false;
        // sync=top: the source's own layer; sync=full: any layer of its chain.
        for (BlockDriver* layer = &src; layer; layer = layer->backing()) {
            if (pos >= layer->size())
                break;
            LayerExtent e = layer->layerStatus(pos, length);
            length = std::min(length, e.length);
            if (e.kind != Allocation::Unallocated) {
                allocated = true;
                break;
            }
            if (spec_.sync == MirrorSync::Top)
                break;
        }
        if (allocated)
            dirty_->set(pos, length);
        pos += length;
    }
}

void MirrorJob::zeroTarget() {
    BlockDriver& target = *spec_.target;
    for (uint64_t pos = 0, end = target.size(); pos < end && checkpoint();) {
        uint64_t length = std::min(end - pos, spec_.bufSize);
        try {
            target.writeZeroes(pos, length, spec_.unmap ? ZeroMayUnmap : ZeroNone);
        } catch (const BlockError& e) {
            if (!actOnError(spec_.onTargetError, e.errnoValue(), true))
                return;
            continue;
        }
        pos += length;
    }
}

uint64_t MirrorJob::copyStep(uint64_t offset, uint64_t* stepEnd) {
    uint64_t end = spec_.source->size();
    uint64_t runEnd = dirty_->nextClean(offset, std::min(end, offset + spec_.bufSize))
                          .value_or(std::min(end, offset + spec_.bufSize));
    // A target with a backing file and clusters larger than the granularity gets whole
    // clusters, so that a partly written cluster does not take the rest from its own backing
    // file (QEMU's copy-on-write alignment).
    if (cowCluster_ > granularity_) {
        offset -= offset % cowCluster_;
        runEnd = std::min(end, (runEnd + cowCluster_ - 1) / cowCluster_ * cowCluster_);
    }
    uint64_t length = runEnd - offset;
    Allocation kind = Allocation::Data;
    // The bits are cleared and the data read while no change of the source is in flight (a
    // write marks its range before its data lands): a change that comes later marks the range
    // dirty again.
    std::vector<uint8_t> buf;
    try {
        {
            std::optional<BlockDriver::ChangesPaused> paused;
            if (!sourceHeld_)
                paused.emplace(*spec_.source);
            try {
                // Whole target clusters are copied as data (read through the source's chain).
                if (cowCluster_ <= granularity_)
                    kind = chainStatus(offset, length);
            } catch (const BlockError& e) {
                throw StepFailure{e.errnoValue(), false};
            }
            dirty_->reset(offset, length);
            if (kind == Allocation::Data) {
                buf.resize(length);
                try {
                    spec_.source->read(offset, buf);
                } catch (const BlockError& e) {
                    throw StepFailure{e.errnoValue(), false};
                }
            }
        }
        if (kind == Allocation::Data)
            spec_.target->write(offset, buf);
        else if (kind == Allocation::Zero)
            spec_.target->writeZeroes(offset, length, spec_.unmap ? ZeroMayUnmap : ZeroNone);
        else
            spec_.target->discard(offset, length);
    } catch (const BlockError& e) {
        dirty_->set(offset, length);
        throw StepFailure{e.errnoValue(), true};
    } catch (const StepFailure&) {
        dirty_->set(offset, length);
        throw;
    }
    if (stepEnd)
        *stepEnd = offset + length;
    return length;
}

void MirrorJob::copyAllDirty() {
    for (uint64_t pos = 0;;) {
        std::optional<uint64_t> next = dirty_->nextDirty(pos, spec_.source->size());
        if (!next)
            next = dirty_->nextDirty(0, spec_.source->size());
        if (!next)
            break;
        try {
            copyStep(*next, &pos);
        } catch (const StepFailure& f) {
            throw BlockError(f.errnoValue, spec_.target->filename() + ": mirror catch-up failed");
        }
    }
    spec_.target->flush();
}

void MirrorJob::run() {
    // As in QEMU, a job that cannot work fails once it runs.
    if (spec_.source->size() != spec_.target->size())
        throw std::runtime_error("Source and target image have different sizes");
    if (spec_.zeroTarget && !spec_.targetUnmaps) {
        dirty_->set(0, spec_.source->size());
    } else {
        if (spec_.zeroTarget)
            zeroTarget();
        markInitialDirty();
    }
    bool ready = false;
    while (checkpoint()) {
        uint64_t remaining = dirty_->dirtyBytes();
        setTotal(info().current + remaining);
        if (remaining > 0) {
            std::optional<uint64_t> next = dirty_->nextDirty(cursor_, spec_.source->size());
            if (!next)
                next = dirty_->nextDirty(0, spec_.source->size());
            if (!next)
                continue;
            uint64_t done;
            try {
                done = copyStep(*next, &cursor_);
            } catch (const StepFailure& f) {
                ErrorPolicy policy = f.write ? spec_.onTargetError : spec_.onSourceError;
                if (!actOnError(policy, f.errnoValue, f.write))
                    return;
                continue;
            }
            addProgress(done);
            checkpoint(done);
            continue;
        }
        // In sync. Before the job says so, and again before it ends, what was written reaches
        // the target's disk (as in QEMU, not in between).
        bool ending = completionRequested();
        if (!ready || ending) {
            try {
                spec_.target->flush();
            } catch (const BlockError& e) {
                if (!actOnError(spec_.onTargetError, e.errnoValue(), true))
                    return;
                continue;
            }
        }
        if (!ready) {
            ready = true;
            becomeReady();
            continue;
        }
        if (ending)
            return;
        waitForRequest(kReadyPoll);
    }
}

void MirrorJob::prepare() {
    if (completeRequested() && spec_.pivot && spec_.checkPivot)
        spec_.checkPivot();
}

void MirrorJob::commit() {
    if (!completeRequested() || !spec_.pivot)
        return;
    try {
        // The pivot holds the source's changes (or its users' requests) around the catch-up.
        spec_.pivot([this](bool sourceHeld) {
            sourceHeld_ = sourceHeld;
            copyAllDirty();
            sourceHeld_ = false;
        });
    } catch (const std::exception&) {
        // The job's result is decided; a pivot that failed leaves the users on the source.
    }
}

void MirrorJob::clean() {
    if (attached_) {
        attached_ = false;
        spec_.source->removeWriteObserver(recorder_.get());
        try {
            spec_.target->flush();
        } catch (const BlockError&) {
            // The job's result is already decided.
        }
    }
    recorder_.reset();
    spec_.source.reset();
    spec_.target.reset();
    spec_.pivot = nullptr;
}

void MirrorJob::cancelTargetRequests() {
    if (std::shared_ptr<BlockDriver> target = cancelTarget_.lock())
        if (auto* waiting = dynamic_cast<InFlightRequests*>(target.get()))
            waiting->cancelInFlight();
}

} // namespace e2kvm::block

#include "BackupJob.h"
#include "block/InFlightRequests.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace e2kvm::block {

namespace {
// Copy unit: 64 KiB, or the target's cluster if larger (as QEMU's backup).
uint64_t copyClusterSize(const BlockDriver& target) {
    return std::max<uint64_t>(65536, target.clusterSize());
}
constexpr uint64_t kStep = 1 << 20;

bool chainContains(const BlockDriver* top, const BlockDriver* wanted) {
    for (const BlockDriver* b = top; b; b = b->backing())
        if (b == wanted)
            return true;
    return false;
}
} // namespace

BackupJob::BackupJob(BackupSpec spec)
    : Job(spec.id, "backup", spec.autoFinalize, spec.autoDismiss), spec_(std::move(spec)),
      cancelTarget_(spec_.target) {
    if (spec_.source == spec_.target)
        throw std::runtime_error("Source and target cannot be the same");
    if (spec_.target->readOnly())
        throw std::runtime_error("Target '" + spec_.target->filename() + "' is read-only");
    if (spec_.source->size() != spec_.target->size())
        throw std::runtime_error("Source and target image have different sizes");
    bool needsBitmap = spec_.sync == BackupSync::Incremental || spec_.sync == BackupSync::Bitmap;
    if (needsBitmap && !spec_.bitmap)
        throw std::runtime_error(
            "must provide a valid bitmap name for '" +
            std::string(spec_.sync == BackupSync::Incremental ? "incremental" : "bitmap") +
            "' sync mode");
    if (spec_.compress && !spec_.target->supportsCompression())
        throw std::runtime_error("Compression is not supported for this drive " +
                                 spec_.target->filename());
    fleecing_ = chainContains(spec_.target->backing(), spec_.source.get());
    copy_ = std::make_shared<BlockCopy>(spec_.source, spec_.target, copyClusterSize(*spec_.target),
                                        spec_.compress);
    presetSpeed(spec_.speed);
}

BackupJob::~BackupJob() {
    joinThread();
    clean();
}

void BackupJob::takePointInTime(const BlockDriver::ChangesPaused& paused) {
    switch (spec_.sync) {
    case BackupSync::Full:
    case BackupSync::None:
        copy_->markAll();
        break;
    case BackupSync::Top:
        markTop();
        break;
    case BackupSync::Incremental:
    case BackupSync::Bitmap:
        break;
    }
    if (spec_.bitmap) {
        taken_ = std::make_shared<DirtyBitmap>(*spec_.bitmap);
        spec_.bitmap->clear(); // from now on it records what comes after the point in time
        if (spec_.sync == BackupSync::Incremental || spec_.sync == BackupSync::Bitmap)
            copy_->markDirty(*taken_);
    }
    setTotal(spec_.sync == BackupSync::None ? copy_->diskSize() : copy_->remainingBytes());
    copy_->setOnCopied([this](uint64_t bytes) { addProgress(bytes); });
    copy_->setOnCopyError([this](const BlockError& e) {
        auto* f = dynamic_cast<const CopyFailure*>(&e);
        fail(std::strerror(e.errnoValue()), f && f->write());
    });
    spec_.source->addWriteInterceptor(copy_, &paused);
    if (fleecing_)
        spec_.target->setReadGuard(copy_);
    attached_ = true;
}

void BackupJob::markTop() {
    BlockDriver& src = *spec_.source;
    for (uint64_t pos = 0, end = src.size(); pos < end;) {
        LayerExtent e = src.layerStatus(pos, end - pos);
        if (e.kind != Allocation::Unallocated)
            copy_->mark(pos, e.length);
        pos += e.length;
    }
}

void BackupJob::run() {
    if (spec_.sync == BackupSync::None) {
        idleUntilCancelled();
        return;
    }
    uint64_t pos = 0;
    while (checkpoint()) {
        std::optional<uint64_t> next = copy_->nextPending(pos);
        if (!next)
            break;
        uint64_t copied;
        try {
            copied = copy_->copy(*next, kStep);
        } catch (const CopyFailure& e) {
            // The clusters stay to be copied: a step tried again starts from the same place.
            ErrorPolicy policy = e.write() ? spec_.onTargetError : spec_.onSourceError;
            if (!actOnError(policy, e.errnoValue(), e.write()))
                return;
            continue;
        }
        pos = *next + kStep;
        if (!checkpoint(copied))
            return;
    }
    if (cancelled())
        return;
    // Copies that guest writes started may still be on their way to the target.
    copy_->copy(0, copy_->diskSize());
    spec_.target->flush();
}

void BackupJob::restoreBitmap(bool onlyUncopied) {
    if (!spec_.bitmap || !taken_)
        return;
    if (!onlyUncopied) {
        spec_.bitmap->merge(*taken_);
        return;
    }
    // Bitmap mode "always": what was copied counts as backed up; every cluster the job still had
    // to copy (whether the bitmap had it or not: sync full and top copy more) becomes dirty.
    uint64_t end = copy_->diskSize();
    for (uint64_t pos = 0; pos < end;) {
        std::optional<uint64_t> next = copy_->nextPending(pos);
        if (!next)
            break;
        uint64_t stop = copy_->pendingRunEnd(*next);
        spec_.bitmap->set(*next, stop - *next);
        pos = stop;
    }
}

void BackupJob::commit() {
    if (spec_.bitmapMode == BitmapMode::Never)
        restoreBitmap(false);
}

void BackupJob::abort() {
    restoreBitmap(spec_.bitmapMode == BitmapMode::Always);
}

void BackupJob::clean() {
    if (attached_)
        detach();
    // A finished job lets go of its images at once (a dismissed job may be destroyed later).
    copy_.reset();
    spec_.source.reset();
    spec_.target.reset();
    spec_.bitmap.reset();
}

void BackupJob::detach() {
    attached_ = false;
    copy_->deactivate();
    spec_.source->removeWriteInterceptor(copy_.get());
    if (fleecing_)
        spec_.target->setReadGuard(nullptr);
    try {
        spec_.target->flush();
    } catch (const BlockError&) {
        // The job's result is already decided; a failing flush of a disposable target is not
        // worth failing the cleanup for.
    }
}

void BackupJob::cancelTargetRequests() {
    if (std::shared_ptr<BlockDriver> target = cancelTarget_.lock())
        if (auto* waiting = dynamic_cast<InFlightRequests*>(target.get()))
            waiting->cancelInFlight();
}

} // namespace e2kvm::block

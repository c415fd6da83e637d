#include "CopyBeforeWriteFilter.h"

#include "block/ChainStatus.h"

#include <algorithm>

namespace e2kvm::block {

namespace {

// Copy unit: 64 KiB, or the target's cluster if larger (as QEMU's block-copy).
uint64_t copyUnit(const BlockDriver& target) {
    return std::max<uint64_t>(65536, target.clusterSize());
}

bool chainContains(const BlockDriver* top, const BlockDriver* wanted) {
    for (const BlockDriver* b = top; b; b = b->backing())
        if (b == wanted)
            return true;
    return false;
}

std::shared_ptr<BlockCopy> checkedCopy(const std::shared_ptr<BlockDriver>& file,
                                       const std::shared_ptr<BlockDriver>& target) {
    if (file->size() != target->size())
        throwError(EINVAL, target->filename(),
                   "copy-before-write target must have the size of the file (" +
                       std::to_string(file->size()) + " bytes)");
    if (target->readOnly())
        throwError(EPERM, target->filename(), "copy-before-write target is read-only");
    return std::make_shared<BlockCopy>(file, target, copyUnit(*target));
}

} // namespace

void CopyBeforeWriteFilter::Guard::beforeChange(uint64_t offset, uint64_t length) {
    if (broken.load())
        return;
    try {
        copy->beforeChange(offset, length);
    } catch (const BlockError&) {
        if (onError == OnCbwError::BreakGuestWrite)
            throw;
        broken.store(true);
        copy->deactivate();
    }
}

CopyBeforeWriteFilter::CopyBeforeWriteFilter(std::shared_ptr<BlockDriver> file,
                                             std::shared_ptr<BlockDriver> target,
                                             const DirtyBitmap* bitmap, OnCbwError onError)
    : BlockDriver(file->filename(), file->readOnly()), file_(std::move(file)),
      target_(std::move(target)), copy_(checkedCopy(file_, target_)),
      guard_(std::make_shared<Guard>()), ownsCopy_(true),
      readable_(file_->size(), copy_->clusterSize()),
      touched_(file_->size(), copy_->clusterSize()) {
    guard_->copy = copy_;
    guard_->onError = onError;
    ChangesPaused paused(*file_);
    if (bitmap) {
        copy_->markDirty(*bitmap);
        // The same clusters: those holding a dirty granule.
        uint64_t end = std::min(bitmap->diskSize(), file_->size());
        for (uint64_t pos = 0; pos < end;) {
            std::optional<uint64_t> dirty = bitmap->nextDirty(pos, end);
            if (!dirty)
                break;
            uint64_t clean = bitmap->nextClean(*dirty, end).value_or(end);
            readable_.set(*dirty, clean - *dirty);
            pos = clean;
        }
    } else {
        copy_->markAll();
        readable_.set(0, file_->size());
    }
    file_->addWriteInterceptor(guard_, &paused);
    // A target that reads the file through its backing chain (a fleecing overlay) sees the
    // point in time only while changes to what it reads there wait.
    guardsTargetReads_ = chainContains(target_->backing(), file_.get());
    if (guardsTargetReads_)
        target_->setReadGuard(copy_);
}

CopyBeforeWriteFilter::CopyBeforeWriteFilter(std::shared_ptr<BlockCopy> copy)
    : BlockDriver(copy->source().filename(), false),
      file_(std::shared_ptr<BlockDriver>(copy, &copy->source())),
      target_(std::shared_ptr<BlockDriver>(copy, &copy->target())), copy_(std::move(copy)),
      guard_(std::make_shared<Guard>()), readable_(file_->size(), copy_->clusterSize()),
      touched_(file_->size(), copy_->clusterSize()) {
    guard_->copy = copy_;
    readable_.set(0, file_->size());
}

CopyBeforeWriteFilter::~CopyBeforeWriteFilter() {
    if (!ownsCopy_)
        return;
    copy_->deactivate();
    file_->removeWriteInterceptor(guard_.get());
    if (guardsTargetReads_)
        target_->setReadGuard(nullptr);
}

void CopyBeforeWriteFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    file_->read(offset, buf);
}

void CopyBeforeWriteFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf,
                                    unsigned writeFlags) {
    file_->write(offset, buf, writeFlags);
    touched_.set(offset, buf.size());
}

void CopyBeforeWriteFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    file_->writeZeroes(offset, length, zeroFlags);
    touched_.set(offset, length);
}

void CopyBeforeWriteFilter::doDiscard(uint64_t offset, uint64_t length) {
    file_->discard(offset, length);
    touched_.set(offset, length);
}

void CopyBeforeWriteFilter::doFlush() {
    file_->flush();
}

LayerExtent CopyBeforeWriteFilter::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    // A filter has no layer of its own: the file's whole chain shows through.
    ChainExtent ce = chainStatus(*file_, offset, maxLength);
    LayerExtent e;
    e.length = ce.length;
    e.kind = ce.zero ? Allocation::Zero : Allocation::Data;
    return e;
}

void CopyBeforeWriteFilter::doTruncate(uint64_t) {
    throwError(EBUSY, filename(), "cannot resize a copy-before-write filter");
}

} // namespace e2kvm::block

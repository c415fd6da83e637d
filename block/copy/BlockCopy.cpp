#include "BlockCopy.h"

#include "block/ChainStatus.h"

#include <algorithm>

namespace e2kvm::block {

namespace {
// The most one copy step reads and writes at once.
constexpr uint64_t kMaxStep = 1 << 20;
} // namespace

BlockCopy::BlockCopy(std::shared_ptr<BlockDriver> source, std::shared_ptr<BlockDriver> target,
                     uint64_t clusterSize, bool compress)
    : source_(std::move(source)), target_(std::move(target)), clusterSize_(clusterSize),
      diskSize_(source_->size()), compress_(compress), toCopy_(diskSize_, clusterSize) {}

void BlockCopy::markAll() {
    toCopy_.set(0, diskSize_);
}

void BlockCopy::mark(uint64_t offset, uint64_t length) {
    if (offset >= diskSize_)
        return;
    toCopy_.set(offset, std::min(length, diskSize_ - offset));
}

void BlockCopy::markDirty(const DirtyBitmap& bitmap) {
    uint64_t end = std::min(bitmap.diskSize(), diskSize_);
    for (uint64_t pos = 0; pos < end;) {
        std::optional<uint64_t> dirty = bitmap.nextDirty(pos, end);
        if (!dirty)
            break;
        uint64_t clean = bitmap.nextClean(*dirty, end).value_or(end);
        toCopy_.set(*dirty, clean - *dirty);
        pos = clean;
    }
}

uint64_t BlockCopy::remainingBytes() const {
    std::lock_guard lock(mutex_);
    return toCopy_.dirtyBytes();
}

bool BlockCopy::pending(uint64_t offset) const {
    return toCopy_.test(offset);
}

std::optional<uint64_t> BlockCopy::nextPending(uint64_t from) const {
    return toCopy_.nextDirty(from, diskSize_);
}

uint64_t BlockCopy::pendingRunEnd(uint64_t from) const {
    return toCopy_.nextClean(from, diskSize_).value_or(diskSize_);
}

void BlockCopy::deactivate() {
    active_.store(false, std::memory_order_release);
}

void BlockCopy::setOnCopied(std::function<void(uint64_t)> cb) {
    std::lock_guard lock(mutex_);
    onCopied_ = std::move(cb);
}

void BlockCopy::setOnCopyError(std::function<void(const BlockError&)> cb) {
    std::lock_guard lock(mutex_);
    onCopyError_ = std::move(cb);
}

bool BlockCopy::overlapsAny(const std::vector<Range>& ranges, uint64_t b, uint64_t e) const {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const Range& r) { return r.overlaps(b, e); });
}

uint64_t BlockCopy::copy(uint64_t offset, uint64_t length) {
    return copyRange(offset, length, false);
}

void BlockCopy::beforeChange(uint64_t offset, uint64_t length) {
    if (!active_.load(std::memory_order_acquire) || offset >= diskSize_)
        return;
    try {
        copyRange(offset, std::min(length, diskSize_ - offset), true);
    } catch (const BlockError& e) {
        std::function<void(const BlockError&)> cb;
        {
            std::lock_guard lock(mutex_);
            cb = onCopyError_;
        }
        if (cb)
            cb(e);
        throw;
    }
}

uint64_t BlockCopy::copyRange(uint64_t offset, uint64_t length, bool waitForReaders) {
    const uint64_t b = offset & ~(clusterSize_ - 1);
    const uint64_t e =
        std::min(diskSize_, (offset + length + clusterSize_ - 1) & ~(clusterSize_ - 1));
    uint64_t copied = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
        if (std::optional<uint64_t> start = toCopy_.nextDirty(b, e)) {
            uint64_t limit = std::min(e, *start + std::max(kMaxStep, clusterSize_));
            uint64_t stop = toCopy_.nextClean(*start, limit).value_or(limit);
            toCopy_.reset(*start, stop - *start);
            copying_.push_back({*start, stop});
            auto done = [&] {
                auto it = std::find_if(copying_.begin(), copying_.end(), [&](const Range& r) {
                    return r.begin == *start && r.end == stop;
                });
                copying_.erase(it);
                changed_.notify_all();
            };
            lock.unlock();
            uint64_t written = 0;
            try {
                copyData(*start, stop - *start, written);
            } catch (...) {
                // The whole clusters before the failure are copied; the rest stays to be copied.
                lock.lock();
                uint64_t from = *start + (written & ~(clusterSize_ - 1));
                if (from < stop)
                    toCopy_.set(from, stop - from);
                done();
                if (from > *start && onCopied_)
                    onCopied_(from - *start);
                throw;
            }
            lock.lock();
            done();
            copied += stop - *start;
            if (onCopied_)
                onCopied_(stop - *start);
            continue;
        }
        // Our clusters may still be on their way to the target by another thread, or (before a
        // change) be read through the target right now.
        if (overlapsAny(copying_, b, e) || (waitForReaders && overlapsAny(reading_, b, e))) {
            changed_.wait(lock);
            continue;
        }
        return copied;
    }
}

void BlockCopy::copyData(uint64_t offset, uint64_t length, uint64_t& written) {
    if (compress_) {
        copyCompressed(offset, length, written);
        return;
    }
    std::vector<uint8_t> buf;
    const unsigned zeroFlags = target_->backing() ? ZeroNone : ZeroMayUnmap;
    for (uint64_t pos = offset, end = offset + length; pos < end;) {
        ChainExtent ce = chainStatus(*source_, pos, end - pos);
        uint64_t n = std::min<uint64_t>(ce.length, end - pos);
        bool writing = false;
        try {
            if (ce.zero) {
                writing = true;
                target_->writeZeroes(pos, n, zeroFlags);
            } else {
                buf.resize(size_t(n));
                source_->read(pos, buf);
                writing = true;
                target_->write(pos, buf);
            }
        } catch (const BlockError& e) {
            throw CopyFailure(e, writing);
        }
        pos += n;
        written = pos - offset;
    }
}

// Whole target clusters: one that reads as zero all through is written as zeroes, any other
// compressed.
void BlockCopy::copyCompressed(uint64_t offset, uint64_t length, uint64_t& written) {
    const uint64_t unit = std::max<uint64_t>(target_->clusterSize(), 512);
    std::vector<uint8_t> buf;
    const unsigned zeroFlags = target_->backing() ? ZeroNone : ZeroMayUnmap;
    for (uint64_t pos = offset, end = offset + length; pos < end;) {
        uint64_t n = std::min(unit - pos % unit, end - pos);
        bool writing = false;
        try {
            ChainExtent ce = chainStatus(*source_, pos, n);
            if (ce.zero && ce.length >= n) {
                writing = true;
                target_->writeZeroes(pos, n, zeroFlags);
            } else {
                buf.resize(size_t(n));
                source_->read(pos, buf);
                writing = true;
                target_->writeCompressed(pos, buf);
            }
        } catch (const BlockError& e) {
            throw CopyFailure(e, writing);
        }
        pos += n;
        written = pos - offset;
    }
}

void BlockCopy::beginRead(uint64_t offset, uint64_t length) {
    const uint64_t b = offset & ~(clusterSize_ - 1);
    const uint64_t e =
        std::min(diskSize_, (offset + length + clusterSize_ - 1) & ~(clusterSize_ - 1));
    std::lock_guard lock(mutex_);
    reading_.push_back({b, e});
}

bool BlockCopy::beginSnapshotRead(uint64_t offset, uint64_t length) {
    const uint64_t b = offset & ~(clusterSize_ - 1);
    const uint64_t e =
        std::min(diskSize_, (offset + length + clusterSize_ - 1) & ~(clusterSize_ - 1));
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !overlapsAny(copying_, b, e); });
    if (!toCopy_.nextDirty(b, e))
        return false;
    reading_.push_back({b, e});
    return true;
}

void BlockCopy::endRead(uint64_t offset, uint64_t length) {
    const uint64_t b = offset & ~(clusterSize_ - 1);
    const uint64_t e =
        std::min(diskSize_, (offset + length + clusterSize_ - 1) & ~(clusterSize_ - 1));
    std::lock_guard lock(mutex_);
    auto it = std::find_if(reading_.begin(), reading_.end(),
                           [&](const Range& r) { return r.begin == b && r.end == e; });
    if (it != reading_.end())
        reading_.erase(it);
    changed_.notify_all();
}

} // namespace e2kvm::block

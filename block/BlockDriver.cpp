#include "BlockDriver.h"

#include <algorithm>
#include <cstdio>

namespace e2kvm::block {

void BlockDriver::describe(ImageDescription&) const {}

void BlockDriver::checkRange(uint64_t offset, uint64_t length, const char* op) const {
    uint64_t sz = size();
    if (offset > sz || length > sz - offset) {
        char msg[200];
        std::snprintf(msg, sizeof msg, "%s past end of disk: offset %llu, length %llu, size %llu",
                      op, (unsigned long long)offset, (unsigned long long)length,
                      (unsigned long long)sz);
        throwError(pastEndErrno(), filename_, msg);
    }
}

void BlockDriver::checkWritable(const char* op) const {
    if (readOnly_)
        throwError(EPERM, filename_, std::string(op) + ": image is opened read-only");
}

// One change to the contents in flight: holds the change gate shared (so that interceptors are
// added between changes, never during one) and runs the interceptors before the change.
class BlockDriver::ChangeScope {
public:
    ChangeScope(BlockDriver& image, uint64_t offset, uint64_t length) : lock_(image.changeGate_) {
        image.writeGeneration_.fetch_add(1, std::memory_order_relaxed);
        if (image.anyInterceptor_.load(std::memory_order_acquire))
            for (const auto& i : image.interceptors_)
                i->beforeChange(offset, length);
    }

private:
    std::shared_lock<std::shared_mutex> lock_;
};

void BlockDriver::read(uint64_t offset, std::span<uint8_t> buf) {
    checkRange(offset, buf.size(), "read");
    if (buf.empty())
        return;
    if (anyReadGuard_.load(std::memory_order_acquire))
        readGuarded(offset, buf);
    else
        doRead(offset, buf);
}

void BlockDriver::readGuarded(uint64_t offset, std::span<uint8_t> buf) {
    std::shared_ptr<ReadGuard> guard;
    {
        std::lock_guard lock(readGuardMutex_);
        guard = readGuard_;
    }
    if (!guard)
        return doRead(offset, buf);
    guard->beginRead(offset, buf.size());
    try {
        doRead(offset, buf);
    } catch (...) {
        guard->endRead(offset, buf.size());
        throw;
    }
    guard->endRead(offset, buf.size());
}

void BlockDriver::write(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    checkWritable("write");
    if (!writesGrowDisk())
        checkRange(offset, buf.size(), "write");
    if (buf.empty())
        return;
    ChangeScope change(*this, offset, buf.size());
    notifyObservers(offset, buf.size());
    doWrite(offset, buf, writeFlags);
}

void BlockDriver::writeZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    checkWritable("write zeroes");
    if (!writesGrowDisk())
        checkRange(offset, length, "write zeroes");
    if (length == 0)
        return;
    ChangeScope change(*this, offset, length);
    notifyObservers(offset, length);
    doWriteZeroes(offset, length, zeroFlags);
}

void BlockDriver::discard(uint64_t offset, uint64_t length) {
    checkWritable("discard");
    checkRange(offset, length, "discard");
    if (length == 0)
        return;
    ChangeScope change(*this, offset, length);
    notifyObservers(offset, length);
    doDiscard(offset, length);
}

void BlockDriver::flush() {
    if (readOnly_)
        return;
    const uint64_t generation = writeGeneration_.load(std::memory_order_relaxed);
    doFlush();
    flushedGeneration_.store(generation, std::memory_order_relaxed);
}

LayerExtent BlockDriver::layerStatus(uint64_t offset, uint64_t maxLength) {
    uint64_t sz = size();
    if (offset >= sz)
        throwError(EINVAL, filename_, "block status past end of disk");
    maxLength = std::min(maxLength, sz - offset);
    if (maxLength == 0)
        throwError(EINVAL, filename_, "block status needs a non-zero length");
    LayerExtent e = doLayerStatus(offset, maxLength);
    if (e.length == 0 || e.length > maxLength)
        e.length = maxLength; // a driver bug must not loop its callers forever
    return e;
}

void BlockDriver::truncate(uint64_t newSize) {
    checkWritable("resize");
    std::shared_lock change(changeGate_);
    if (anyInterceptor_.load(std::memory_order_acquire))
        throwError(EBUSY, filename_, "resize: the image is in use by a point in time (block job)");
    uint64_t old = size();
    if (newSize > old)
        notifyGrowth(old, newSize);
    doTruncate(newSize);
}

void BlockDriver::truncate(uint64_t newSize, Preallocation mode) {
    if (mode == Preallocation::Off) {
        truncate(newSize);
        return;
    }
    checkWritable("resize");
    std::shared_lock change(changeGate_);
    if (anyInterceptor_.load(std::memory_order_acquire))
        throwError(EBUSY, filename_, "resize: the image is in use by a point in time (block job)");
    uint64_t old = size();
    if (newSize < old)
        throw BlockError(ENOTSUP, "Preallocation can only be used for growing images");
    if (newSize == old)
        return;
    notifyGrowth(old, newSize);
    doPreallocatingTruncate(newSize, mode);
}

void BlockDriver::doPreallocatingTruncate(uint64_t, Preallocation mode) {
    throw BlockError(ENOTSUP,
                     std::string("Unsupported preallocation mode: ") + preallocationName(mode));
}

const char* preallocationName(Preallocation mode) {
    switch (mode) {
    case Preallocation::Off:
        break;
    case Preallocation::Metadata:
        return "metadata";
    case Preallocation::Falloc:
        return "falloc";
    case Preallocation::Full:
        return "full";
    }
    return "off";
}

void BlockDriver::writeCompressed(uint64_t offset, std::span<const uint8_t> data) {
    checkWritable("compressed write");
    checkRange(offset, data.size(), "compressed write");
    ChangeScope change(*this, offset, data.size());
    notifyObservers(offset, data.size());
    doWriteCompressed(offset, data);
}

void BlockDriver::doWriteCompressed(uint64_t, std::span<const uint8_t>) {
    throwError(ENOTSUP, filename_,
               "Compression is not supported for format '" + formatName() + "'");
}

void BlockDriver::writeVmState(uint64_t pos, std::span<const uint8_t> data) {
    checkWritable("VM state write");
    if (!data.empty())
        doWriteVmState(pos, data);
}

void BlockDriver::readVmState(uint64_t pos, std::span<uint8_t> buf) {
    if (!buf.empty())
        doReadVmState(pos, buf);
}

void BlockDriver::doWriteVmState(uint64_t, std::span<const uint8_t>) {
    throwError(ENOTSUP, filename_, "Format '" + formatName() + "' keeps no VM state");
}

void BlockDriver::doReadVmState(uint64_t, std::span<uint8_t>) {
    throwError(ENOTSUP, filename_, "Format '" + formatName() + "' keeps no VM state");
}

void BlockDriver::addWriteObserver(std::shared_ptr<WriteObserver> observer) {
    std::lock_guard lock(observersMutex_);
    observers_.push_back(std::move(observer));
}

void BlockDriver::removeWriteObserver(const WriteObserver* observer) {
    std::lock_guard lock(observersMutex_);
    std::erase_if(observers_, [&](const auto& o) { return o.get() == observer; });
}

void BlockDriver::addWriteInterceptor(std::shared_ptr<WriteInterceptor> interceptor,
                                      const ChangesPaused* paused) {
    std::unique_lock<std::shared_mutex> lock;
    if (!paused || &paused->image() != this)
        lock = std::unique_lock(changeGate_);
    interceptors_.push_back(std::move(interceptor));
    anyInterceptor_.store(true, std::memory_order_release);
}

void BlockDriver::removeWriteInterceptor(const WriteInterceptor* interceptor) {
    std::unique_lock lock(changeGate_);
    std::erase_if(interceptors_, [&](const auto& i) { return i.get() == interceptor; });
    anyInterceptor_.store(!interceptors_.empty(), std::memory_order_release);
}

void BlockDriver::setReadGuard(std::shared_ptr<ReadGuard> guard) {
    std::lock_guard lock(readGuardMutex_);
    anyReadGuard_.store(guard != nullptr, std::memory_order_release);
    readGuard_ = std::move(guard);
}

void BlockDriver::notifyObservers(uint64_t offset, uint64_t length) {
    std::lock_guard lock(observersMutex_);
    for (auto& o : observers_)
        o->contentsChanged(offset, length);
}

void BlockDriver::notifyGrowth(uint64_t oldSize, uint64_t newSize) {
    std::lock_guard lock(observersMutex_);
    for (auto& o : observers_)
        o->sizeGrowing(oldSize, newSize);
}

} // namespace e2kvm::block

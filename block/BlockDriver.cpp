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
        throwError(EINVAL, filename_, msg);
    }
}

void BlockDriver::checkWritable(const char* op) const {
    if (readOnly_)
        throwError(EPERM, filename_, std::string(op) + ": image is opened read-only");
}

void BlockDriver::read(uint64_t offset, std::span<uint8_t> buf) {
    checkRange(offset, buf.size(), "read");
    if (!buf.empty())
        doRead(offset, buf);
}

void BlockDriver::write(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    checkWritable("write");
    checkRange(offset, buf.size(), "write");
    if (buf.empty())
        return;
    notifyObservers(offset, buf.size());
    doWrite(offset, buf, writeFlags);
}

void BlockDriver::writeZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    checkWritable("write zeroes");
    checkRange(offset, length, "write zeroes");
    if (length == 0)
        return;
    notifyObservers(offset, length);
    doWriteZeroes(offset, length, zeroFlags);
}

void BlockDriver::discard(uint64_t offset, uint64_t length) {
    checkWritable("discard");
    checkRange(offset, length, "discard");
    if (length == 0)
        return;
    notifyObservers(offset, length);
    doDiscard(offset, length);
}

void BlockDriver::flush() {
    if (!readOnly_)
        doFlush();
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
    uint64_t old = size();
    if (newSize > old)
        notifyObservers(old, newSize - old);
    doTruncate(newSize);
}

void BlockDriver::writeCompressed(uint64_t offset, std::span<const uint8_t> data) {
    checkWritable("compressed write");
    checkRange(offset, data.size(), "compressed write");
    notifyObservers(offset, data.size());
    doWriteCompressed(offset, data);
}

void BlockDriver::doWriteCompressed(uint64_t, std::span<const uint8_t>) {
    throwError(ENOTSUP, filename_, "Compression is not supported for format '" + formatName() + "'");
}

void BlockDriver::addWriteObserver(std::shared_ptr<WriteObserver> observer) {
    std::lock_guard lock(observersMutex_);
    observers_.push_back(std::move(observer));
}

void BlockDriver::removeWriteObserver(const WriteObserver* observer) {
    std::lock_guard lock(observersMutex_);
    std::erase_if(observers_, [&](const auto& o) { return o.get() == observer; });
}

void BlockDriver::notifyObservers(uint64_t offset, uint64_t length) {
    std::lock_guard lock(observersMutex_);
    for (auto& o : observers_)
        o->contentsChanged(offset, length);
}

} // namespace e2kvm::block

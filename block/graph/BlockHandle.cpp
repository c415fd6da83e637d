#include "BlockHandle.h"

#include <mutex>

namespace e2kvm::block {

namespace {

// Runs `request` and records it in `accounting`, failed if it throws.
template <typename Request>
void accounted(BlockAccounting& accounting, AccountedRequest kind, uint64_t offset, uint64_t length,
               Request&& request) {
    BlockAccounting::Clock::time_point start = BlockAccounting::Clock::now();
    try {
        request();
    } catch (...) {
        accounting.record(kind, offset, length, start, true);
        throw;
    }
    accounting.record(kind, offset, length, start, false);
}

} // namespace

BlockHandle::BlockHandle(std::shared_ptr<BlockDriver> node, bool readOnly)
    : BlockDriver(node->filename(), readOnly || node->readOnly()), node_(std::move(node)) {}

std::shared_ptr<BlockDriver> BlockHandle::node() const {
    std::shared_lock lock(mutex_);
    return node_;
}

void BlockHandle::retarget(std::shared_ptr<BlockDriver> node,
                           const std::function<void()>& whileHeld) {
    if (node->size() != size())
        throwError(EINVAL, node->filename(),
                   "size " + std::to_string(node->size()) + " differs from the device's " +
                       std::to_string(size()));
    if (!readOnly() && node->readOnly())
        throwError(EPERM, node->filename(), "a writing device needs a writable node");
    std::unique_lock lock(mutex_); // waits for the requests in flight
    if (whileHeld)
        whileHeld();
    node_->flush();
    node_ = std::move(node);
}

std::string BlockHandle::formatName() const {
    return node()->formatName();
}

uint64_t BlockHandle::size() const {
    return node()->size();
}

uint32_t BlockHandle::clusterSize() const {
    return node()->clusterSize();
}

void BlockHandle::doRead(uint64_t offset, std::span<uint8_t> buf) {
    std::shared_lock lock(mutex_);
    accounted(accounting_, AccountedRequest::Read, offset, buf.size(),
              [&] { node_->read(offset, buf); });
}

void BlockHandle::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    std::shared_lock lock(mutex_);
    accounted(accounting_, AccountedRequest::Write, offset, buf.size(),
              [&] { node_->write(offset, buf, writeFlags); });
}

void BlockHandle::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    std::shared_lock lock(mutex_);
    accounted(accounting_, AccountedRequest::Write, offset, length,
              [&] { node_->writeZeroes(offset, length, zeroFlags); });
}

void BlockHandle::doDiscard(uint64_t offset, uint64_t length) {
    std::shared_lock lock(mutex_);
    accounted(accounting_, AccountedRequest::Unmap, offset, length,
              [&] { node_->discard(offset, length); });
}

void BlockHandle::doFlush() {
    std::shared_lock lock(mutex_);
    accounted(accounting_, AccountedRequest::Flush, 0, 0, [&] { node_->flush(); });
}

LayerExtent BlockHandle::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    std::shared_lock lock(mutex_);
    return node_->layerStatus(offset, maxLength);
}

void BlockHandle::doTruncate(uint64_t newSize) {
    std::shared_lock lock(mutex_);
    node_->truncate(newSize);
}

void BlockHandle::doPreallocatingTruncate(uint64_t newSize, Preallocation mode) {
    std::shared_lock lock(mutex_);
    node_->truncate(newSize, mode);
}

} // namespace e2kvm::block

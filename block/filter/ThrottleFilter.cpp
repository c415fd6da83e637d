#include "ThrottleFilter.h"

namespace e2kvm::block {

ThrottleFilter::ThrottleFilter(std::shared_ptr<BlockDriver> file,
                               std::shared_ptr<ThrottleGroup> group, std::string groupName)
    : PassThroughFilter(std::move(file)), group_(std::move(group)),
      groupName_(std::move(groupName)) {}

void ThrottleFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    group_->admit(false, buf.size());
    PassThroughFilter::doRead(offset, buf);
}

void ThrottleFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    group_->admit(true, buf.size());
    PassThroughFilter::doWrite(offset, buf, writeFlags);
}

void ThrottleFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    group_->admit(true, length);
    PassThroughFilter::doWriteZeroes(offset, length, zeroFlags);
}

} // namespace e2kvm::block

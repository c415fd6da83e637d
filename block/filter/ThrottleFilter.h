#pragma once
// ThrottleFilter: QEMU's throttle filter node (driver=throttle): reads, writes and zero writes
// wait for the room the node's throttle group leaves them (see ThrottleGroup) before they
// pass on to the node below; everything else passes through at once.
#include "PassThroughFilter.h"
#include "ThrottleGroup.h"

#include <memory>
#include <string>

namespace e2kvm::block {

class ThrottleFilter final : public PassThroughFilter {
public:
    ThrottleFilter(std::shared_ptr<BlockDriver> file, std::shared_ptr<ThrottleGroup> group,
                   std::string groupName);
    std::string formatName() const override { return "throttle"; }
    const std::string& groupName() const { return groupName_; }
    const std::shared_ptr<ThrottleGroup>& group() const { return group_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;

private:
    std::shared_ptr<ThrottleGroup> group_;
    std::string groupName_;
};

} // namespace e2kvm::block

#pragma once
// QuorumImage: QEMU's "quorum" driver, a disk kept as several copies (its children, any
// images). A write goes to every child and succeeds when at least vote-threshold children
// took it. A read (read-pattern quorum) reads every child and returns the contents at least
// vote-threshold children agree on, failing with EIO when none has that many; with
// rewrite-corrupted the children that disagreed get the winning contents written back. With
// read-pattern fifo a read takes the first child that reads without error. blkverify mode (two
// children, threshold 2) ends the program at the first difference, naming it, as QEMU does.
#include "block/BlockDriver.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::block::quorum {

enum class ReadPattern { Quorum, Fifo };

struct QuorumSettings {
    size_t voteThreshold = 0;
    bool blkverify = false;
    bool rewriteCorrupted = false;
    ReadPattern readPattern = ReadPattern::Quorum;
};

class QuorumImage final : public BlockDriver {
public:
    // `name`: what filename() reports (QEMU's json: name for the node). The children must all
    // have one size (else BlockError(EIO)). The settings are checked by whoever parsed them.
    // `formatName`: "quorum", or "raw" for the raw format QEMU puts over the node when it is
    // that format's file (requests pass through raw unchanged, so the node stands for both).
    QuorumImage(std::string name, std::vector<std::shared_ptr<BlockDriver>> children,
                const QuorumSettings& settings, bool readOnly, std::string formatName = "quorum");
    ~QuorumImage() override;

    std::string formatName() const override { return formatName_; }
    bool hasDriverInfo() const override { return false; }
    uint64_t size() const override { return size_; }
    uint64_t allocatedBytes() const override;
    const std::vector<std::shared_ptr<BlockDriver>>& children() const { return children_; }
    const QuorumSettings& settings() const { return settings_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    void readVoting(uint64_t offset, std::span<uint8_t> buf);
    void readFirstWorking(uint64_t offset, std::span<uint8_t> buf);
    // Runs `op` on every child; throws the most common error unless at least vote-threshold
    // children succeeded.
    template <typename Op> void onEveryChild(Op&& op);

    std::vector<std::shared_ptr<BlockDriver>> children_;
    QuorumSettings settings_;
    uint64_t size_ = 0;
    std::string formatName_;
};

} // namespace e2kvm::block::quorum

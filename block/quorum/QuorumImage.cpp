#include "block/quorum/QuorumImage.h"

#include "block/BlockError.h"
#include "block/quorum/QuorumVote.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace e2kvm::block::quorum {

namespace {

// The error most children failed with (QEMU votes on the errno), as the one to report.
[[noreturn]] void throwVotedError(const std::vector<std::optional<BlockError>>& errors) {
    Vote<int> vote;
    for (size_t i = 0; i < errors.size(); ++i)
        if (errors[i])
            vote.count(errors[i]->errnoValue(), i);
    const auto* winner = vote.winner();
    if (!winner)
        throw BlockError(EIO, "quorum: too few children succeeded");
    throw *errors[winner->voters.front()];
}

} // namespace

QuorumImage::QuorumImage(std::string name, std::vector<std::shared_ptr<BlockDriver>> children,
                         const QuorumSettings& settings, bool readOnly, std::string formatName)
    : BlockDriver(std::move(name), readOnly), children_(std::move(children)), settings_(settings),
      formatName_(std::move(formatName)) {
    if (children_.empty())
        throw BlockError(EINVAL, "Number of provided children must be 1 or more");
    size_ = children_.front()->size();
    for (const auto& child : children_)
        if (child->size() != size_) // QEMU's length of the node then fails
            throw BlockError(EIO, "Could not refresh total sector count: " +
                                      std::string(std::strerror(EIO)));
}

QuorumImage::~QuorumImage() = default;

uint64_t QuorumImage::allocatedBytes() const {
    uint64_t sum = 0;
    for (const auto& child : children_)
        sum += child->allocatedBytes();
    return sum;
}

template <typename Op> void QuorumImage::onEveryChild(Op&& op) {
    std::vector<std::optional<BlockError>> errors(children_.size());
    size_t succeeded = 0;
    for (size_t i = 0; i < children_.size(); ++i) {
        try {
            op(*children_[i]);
            ++succeeded;
        } catch (const BlockError& e) {
            errors[i] = e;
        }
    }
    if (succeeded < settings_.voteThreshold)
        throwVotedError(errors);
}

void QuorumImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    if (settings_.readPattern == ReadPattern::Fifo)
        readFirstWorking(offset, buf);
    else
        readVoting(offset, buf);
}

void QuorumImage::readFirstWorking(uint64_t offset, std::span<uint8_t> buf) {
    for (size_t i = 0;; ++i) {
        try {
            children_[i]->read(offset, buf);
            return;
        } catch (const BlockError&) {
            if (i + 1 == children_.size())
                throw;
        }
    }
}

void QuorumImage::readVoting(uint64_t offset, std::span<uint8_t> buf) {
    const size_t n = children_.size();
    std::vector<std::vector<uint8_t>> copies(n);
    std::vector<std::optional<BlockError>> errors(n);
    size_t succeeded = 0;
    for (size_t i = 0; i < n; ++i) {
        copies[i].resize(buf.size());
        try {
            children_[i]->read(offset, copies[i]);
            ++succeeded;
        } catch (const BlockError& e) {
            errors[i] = e;
        }
    }
    if (succeeded < settings_.voteThreshold)
        throwVotedError(errors);
    // The first good copy against every other good one: all equal is the usual case.
    size_t first = 0;
    while (errors[first])
        ++first;
    bool allEqual = true;
    for (size_t j = first + 1; j < n && allEqual; ++j) {
        if (errors[j])
            continue;
        if (settings_.blkverify) {
            const auto diff =
                std::mismatch(copies[first].begin(), copies[first].end(), copies[j].begin());
            if (diff.first != copies[first].end()) {
                // QEMU's blkverify mode stops the program at the first difference.
                std::fflush(stdout);
                std::fprintf(stderr,
                             "quorum: offset=%" PRIu64 " bytes=%zu contents mismatch at offset "
                             "%" PRIu64 "\n",
                             offset, buf.size(),
                             offset + static_cast<uint64_t>(diff.first - copies[first].begin()));
                std::exit(1);
            }
        } else {
            allEqual = copies[first] == copies[j];
        }
    }
    if (allEqual) {
        std::copy(copies[first].begin(), copies[first].end(), buf.begin());
        return;
    }
    Vote<std::vector<uint8_t>> vote;
    for (size_t i = 0; i < n; ++i)
        if (!errors[i])
            vote.count(copies[i], i);
    const auto* winner = vote.winner();
    if (winner->voters.size() < settings_.voteThreshold)
        throw BlockError(EIO,
                         filename() + ": quorum not reached at offset " + std::to_string(offset));
    std::copy(winner->value.begin(), winner->value.end(), buf.begin());
    if (!settings_.rewriteCorrupted)
        return;
    // The children that gave another version get the winner's, as far as they take it.
    for (const auto& version : vote.versions()) {
        if (&version == winner)
            continue;
        for (size_t child : version.voters) {
            try {
                children_[child]->write(offset, winner->value);
            } catch (const BlockError&) {
            }
        }
    }
}

void QuorumImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    onEveryChild([&](BlockDriver& child) { child.write(offset, buf, writeFlags); });
}

void QuorumImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    onEveryChild([&](BlockDriver& child) { child.writeZeroes(offset, length, zeroFlags); });
}

void QuorumImage::doDiscard(uint64_t, uint64_t) {
    // QEMU's quorum passes no discard down: it is only a hint.
}

void QuorumImage::doFlush() {
    onEveryChild([](BlockDriver& child) { child.flush(); });
}

LayerExtent QuorumImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    // Zero where every child reads as zero (the shortest such run), else data (the longest).
    uint64_t zeroRun = std::min(maxLength, size_ - offset);
    uint64_t dataRun = 0;
    for (const auto& child : children_) {
        const LayerExtent e = child->layerStatus(offset, maxLength);
        const bool zero = e.kind == Allocation::Zero || e.dataReadsAsZero ||
                          (e.kind == Allocation::Unallocated && !child->backing() &&
                           child->unallocatedReadsAsZero());
        if (zero)
            zeroRun = std::min(zeroRun, e.length);
        else
            dataRun = std::max(dataRun, e.length);
    }
    LayerExtent out;
    out.kind = dataRun ? Allocation::Data : Allocation::Zero;
    out.length = dataRun ? dataRun : zeroRun;
    return out;
}

void QuorumImage::doTruncate(uint64_t) {
    throw BlockError(ENOTSUP, "Image format driver does not support resize");
}

} // namespace e2kvm::block::quorum

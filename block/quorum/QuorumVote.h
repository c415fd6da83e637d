#pragma once
// QuorumVote: how QEMU's quorum driver picks one answer among its children's — the versions
// in the order first seen, each with the children that gave it; the winner is the version with
// the most votes, and of several with as many, the one first seen last (QEMU keeps its versions
// newest first and takes the first with the most).
#include <cstddef>
#include <vector>

namespace e2kvm::block::quorum {

template <typename Value> class Vote {
public:
    struct Version {
        Value value;
        std::vector<size_t> voters; // child indices
    };

    void count(const Value& value, size_t child) {
        for (auto& v : versions_)
            if (v.value == value) {
                v.voters.push_back(child);
                return;
            }
        versions_.push_back(Version{value, {child}});
    }

    // Null if nothing was counted.
    const Version* winner() const {
        const Version* best = nullptr;
        for (auto it = versions_.rbegin(); it != versions_.rend(); ++it)
            if (!best || it->voters.size() > best->voters.size())
                best = &*it;
        return best;
    }

    const std::vector<Version>& versions() const { return versions_; }

private:
    std::vector<Version> versions_;
};

} // namespace e2kvm::block::quorum

#pragma once
// Naive models of a dirty bitmap for checking DirtyBitmap: one bool per granule
// (VectorReference) and a set of granule intervals for disks too large for that
// (IntervalReference). Both answer in byte offsets like DirtyBitmap.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <vector>

namespace e2kvm::block::test {

class VectorReference {
public:
    VectorReference(uint64_t diskSize, uint64_t granularity)
        : size_(diskSize), gran_(granularity),
          bits_((diskSize + granularity - 1) / granularity, false) {}

    void assign(uint64_t offset, uint64_t length, bool value) {
        if (length == 0)
            return;
        for (uint64_t g = offset / gran_; g <= (offset + length - 1) / gran_; ++g)
            bits_[g] = value;
    }
    bool test(uint64_t offset) const { return offset < size_ && bits_[offset / gran_]; }
    std::optional<uint64_t> next(uint64_t offset, uint64_t limit, bool dirty) const {
        limit = std::min(limit, size_);
        for (uint64_t pos = offset; pos < limit; pos = (pos / gran_ + 1) * gran_)
            if (bits_[pos / gran_] == dirty)
                return pos;
        return std::nullopt;
    }
    uint64_t dirtyBytes() const {
        uint64_t total = 0;
        for (uint64_t g = 0; g < bits_.size(); ++g)
            if (bits_[g])
                total += std::min(gran_, size_ - g * gran_);
        return total;
    }
    std::vector<uint8_t> serialize() const {
        std::vector<uint8_t> out((bits_.size() + 7) / 8, 0);
        for (uint64_t g = 0; g < bits_.size(); ++g)
            if (bits_[g])
                out[g / 8] |= static_cast<uint8_t>(1u << (g % 8));
        return out;
    }
    uint64_t granules() const { return bits_.size(); }
    bool granule(uint64_t g) const { return bits_[g]; }

private:
    uint64_t size_, gran_;
    std::vector<bool> bits_;
};

// Dirty granules as disjoint, non-adjacent [first, end) intervals.
class IntervalReference {
public:
    IntervalReference(uint64_t diskSize, uint64_t granularity)
        : size_(diskSize), gran_(granularity) {}

    void assign(uint64_t offset, uint64_t length, bool value) {
        if (length == 0)
            return;
        uint64_t a = offset / gran_, b = (offset + length - 1) / gran_ + 1;
        // Cut out [a, b), then add it back if setting, merging with neighbours.
        auto it = runs_.lower_bound(a);
        if (it != runs_.begin() && std::prev(it)->second > a)
            --it;
        std::vector<std::pair<uint64_t, uint64_t>> keep;
        while (it != runs_.end() && it->first < b) {
            if (it->first < a)
                keep.emplace_back(it->first, a);
            if (it->second > b)
                keep.emplace_back(b, it->second);
            it = runs_.erase(it);
        }
        for (auto& k : keep)
            runs_[k.first] = k.second;
        if (value) {
            uint64_t s = a, e = b;
            auto n = runs_.lower_bound(a);
            if (n != runs_.begin() && std::prev(n)->second == a) {
                s = std::prev(n)->first;
                runs_.erase(std::prev(n));
            }
            n = runs_.find(b);
            if (n != runs_.end()) {
                e = n->second;
                runs_.erase(n);
            }
            runs_[s] = e;
        }
    }
    bool granuleDirty(uint64_t g) const {
        auto it = runs_.upper_bound(g);
        return it != runs_.begin() && std::prev(it)->second > g;
    }
    bool test(uint64_t offset) const { return offset < size_ && granuleDirty(offset / gran_); }
    std::optional<uint64_t> next(uint64_t offset, uint64_t limit, bool dirty) const {
        limit = std::min(limit, size_);
        if (offset >= limit)
            return std::nullopt;
        uint64_t g = offset / gran_;
        uint64_t found;
        if (granuleDirty(g) == dirty) {
            found = g;
        } else if (dirty) {
            auto it = runs_.upper_bound(g);
            if (it == runs_.end())
                return std::nullopt;
            found = it->first;
        } else {
            auto it = std::prev(runs_.upper_bound(g));
            found = it->second;
        }
        uint64_t byte = std::max(offset, found * gran_);
        if (byte >= limit)
            return std::nullopt;
        return byte;
    }
    uint64_t dirtyBytes() const {
        uint64_t total = 0;
        for (auto& [a, b] : runs_)
            total += std::min(b * gran_, size_) - a * gran_;
        return total;
    }

private:
    uint64_t size_, gran_;
    std::map<uint64_t, uint64_t> runs_;
};

} // namespace e2kvm::block::test

#pragma once
// Qcow2L2Cache: a bounded LRU cache of decoded L2 tables, keyed by their host offset. A table
// can be dirty: it holds entries that are not yet in the file (the driver writes them at its
// next metadata barrier, after the data and refcounts they point at are durable). Eviction
// only drops clean tables, so the cache may hold more than its bound while many are dirty.
// Not thread-safe (the driver's metadata lock protects it).
#include <algorithm>
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

namespace e2kvm::block::qcow2 {

class Qcow2L2Cache {
public:
    using Table = std::shared_ptr<std::vector<uint64_t>>;
    // A dirty table: entries [first, last] differ from the file.
    struct Dirty {
        uint64_t offset;
        Table table;
        uint64_t first;
        uint64_t last;
    };

    explicit Qcow2L2Cache(size_t maxTables) : maxTables_(maxTables < 4 ? 4 : maxTables) {}

    size_t maxTables() const { return maxTables_; }

    Table find(uint64_t offset) {
        auto it = map_.find(offset);
        if (it == map_.end())
            return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second.pos);
        return it->second.table;
    }
    void insert(uint64_t offset, Table t) {
        erase(offset);
        for (auto victim = lru_.end(); map_.size() >= maxTables_ && victim != lru_.begin();) {
            --victim;
            auto it = map_.find(*victim);
            if (it->second.dirty)
                continue;
            map_.erase(it);
            victim = lru_.erase(victim);
        }
        lru_.push_front(offset);
        map_.emplace(offset, Slot{std::move(t), lru_.begin(), false, 0, 0});
    }
    // Entries [first, last] of table `t` (at `offset`) changed in memory only.
    void markDirty(uint64_t offset, const Table& t, uint64_t first, uint64_t last) {
        auto it = map_.find(offset);
        if (it == map_.end() || it->second.table != t) {
            insert(offset, t);
            it = map_.find(offset);
        }
        Slot& s = it->second;
        if (!s.dirty) {
            s.dirty = true;
            s.first = first;
            s.last = last;
            ++dirtyCount_;
        } else {
            s.first = std::min(s.first, first);
            s.last = std::max(s.last, last);
        }
    }
    size_t dirtyCount() const { return dirtyCount_; }
    // The dirty tables; they count as clean afterwards (the caller writes them).
    std::vector<Dirty> takeDirty() {
        std::vector<Dirty> out;
        out.reserve(dirtyCount_);
        for (auto& [offset, s] : map_)
            if (s.dirty) {
                out.push_back({offset, s.table, s.first, s.last});
                s.dirty = false;
            }
        dirtyCount_ = 0;
        std::sort(out.begin(), out.end(),
                  [](const Dirty& a, const Dirty& b) { return a.offset < b.offset; });
        return out;
    }
    void erase(uint64_t offset) {
        auto it = map_.find(offset);
        if (it == map_.end())
            return;
        if (it->second.dirty)
            --dirtyCount_;
        lru_.erase(it->second.pos);
        map_.erase(it);
    }
    bool contains(uint64_t offset) const { return map_.count(offset) != 0; }
    void clear() {
        map_.clear();
        lru_.clear();
        dirtyCount_ = 0;
    }

private:
    struct Slot {
        Table table;
        std::list<uint64_t>::iterator pos;
        bool dirty;
        uint64_t first;
        uint64_t last;
    };
    size_t maxTables_;
    size_t dirtyCount_ = 0;
    std::list<uint64_t> lru_;
    std::unordered_map<uint64_t, Slot> map_;
};

} // namespace e2kvm::block::qcow2

#pragma once
// Qcow2L2Cache: a bounded LRU cache of decoded L2 tables, keyed by their host offset. Tables
// are written through by the driver, so eviction never writes. Not thread-safe (the driver's
// metadata lock protects it).
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

namespace e2kvm::block::qcow2 {

class Qcow2L2Cache {
public:
    using Table = std::shared_ptr<std::vector<uint64_t>>;
    explicit Qcow2L2Cache(size_t maxTables) : maxTables_(maxTables < 4 ? 4 : maxTables) {}

    Table find(uint64_t offset) {
        auto it = map_.find(offset);
        if (it == map_.end())
            return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second.second);
        return it->second.first;
    }
    void insert(uint64_t offset, Table t) {
        erase(offset);
        while (map_.size() >= maxTables_) {
            map_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(offset);
        map_.emplace(offset, std::make_pair(std::move(t), lru_.begin()));
    }
    void erase(uint64_t offset) {
        auto it = map_.find(offset);
        if (it == map_.end())
            return;
        lru_.erase(it->second.second);
        map_.erase(it);
    }
    bool contains(uint64_t offset) const { return map_.count(offset) != 0; }
    void clear() {
        map_.clear();
        lru_.clear();
    }

private:
    size_t maxTables_;
    std::list<uint64_t> lru_;
    std::unordered_map<uint64_t, std::pair<Table, std::list<uint64_t>::iterator>> map_;
};

} // namespace e2kvm::block::qcow2

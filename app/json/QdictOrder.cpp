#include "app/json/QdictOrder.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace e2kvm::json {

namespace {

// A QDict has 512 buckets; a key goes to the bucket its "tdb" hash picks. Iteration walks the
// buckets in order, and within one bucket the key added last comes first.
constexpr unsigned kQdictBuckets = 512;

unsigned qdictBucket(const std::string& key) {
    uint32_t h = uint32_t(0x238F13AFu * uint32_t(key.size()));
    for (size_t i = 0; i < key.size(); ++i)
        h += uint32_t(static_cast<unsigned char>(key[i])) << ((i * 5) % 24);
    h = 1103515243u * h + 12345u;
    return h % kQdictBuckets;
}

} // namespace

std::vector<size_t> qdictMemberOrder(const Json::Object& members) {
    std::vector<size_t> order(members.size());
    std::vector<unsigned> buckets(members.size());
    for (size_t i = 0; i < members.size(); ++i) {
        order[i] = i;
        buckets[i] = qdictBucket(members[i].first);
    }
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        if (buckets[x] != buckets[y])
            return buckets[x] < buckets[y];
        return x > y;
    });
    return order;
}

Json inQdictOrder(const Json& value) {
    if (value.isArray()) {
        Json out = Json::array();
        for (const Json& element : value.asArray())
            out.push(inQdictOrder(element));
        return out;
    }
    if (!value.isObject())
        return value;
    const Json::Object& members = value.asObject();
    Json::Object sorted;
    sorted.reserve(members.size());
    for (size_t i : qdictMemberOrder(members))
        sorted.emplace_back(members[i].first, inQdictOrder(members[i].second));
    return Json(std::move(sorted));
}

} // namespace e2kvm::json

#include "QemuImgJson.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace e2kvm::img {

namespace {

using json::Json;

// QEMU's QDict places a key in one of 512 buckets by the "tdb" string hash and iterates the
// buckets in order; within a bucket the most recently inserted key comes first.
constexpr unsigned kBuckets = 512;

unsigned bucketOf(const std::string& key) {
    uint32_t h = uint32_t(0x238F13AFu * uint32_t(key.size()));
    for (size_t i = 0; i < key.size(); ++i)
        h += uint32_t((unsigned char)key[i]) << ((i * 5) % 24);
    h = 1103515243u * h + 12345u;
    return h % kBuckets;
}

// Member indices of an object in the order QEMU iterates them.
std::vector<size_t> memberOrder(const Json::Object& members) {
    std::vector<size_t> order(members.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
        unsigned bx = bucketOf(members[x].first), by = bucketOf(members[y].first);
        if (bx != by)
            return bx < by;
        return x > y;
    });
    return order;
}

void indent(std::string& out, int level) {
    out.append(size_t(level) * 4, ' ');
}

bool isComposite(const Json& v) {
    return v.isObject() || v.isArray();
}

void printPretty(const Json& v, std::string& out, int level) {
    if (v.isArray()) {
        out += '[';
        bool first = true;
        for (const Json& e : v.asArray()) {
            out += first ? "\n" : ",\n";
            first = false;
            indent(out, level + 1);
            printPretty(e, out, level + 1);
        }
        out += '\n';
        indent(out, level);
        out += ']';
    } else if (v.isObject()) {
        const Json::Object& members = v.asObject();
        out += '{';
        bool first = true;
        for (size_t i : memberOrder(members)) {
            out += first ? "\n" : ",\n";
            first = false;
            indent(out, level + 1);
            json::appendJsonString(out, members[i].first);
            out += ": ";
            printPretty(members[i].second, out, level + 1);
        }
        out += '\n';
        indent(out, level);
        out += '}';
    } else {
        v.serialize(out);
    }
}

void dumpScalar(const Json& v, std::string& out) {
    if (v.isString())
        out += v.asString();
    else
        v.serialize(out);
    out += '\n';
}

} // namespace

std::string prettyJson(const Json& value) {
    std::string out;
    printPretty(value, out, 0);
    return out;
}

std::string humanDump(const Json& value, int level) {
    std::string out;
    // One "label:" line, then the value: on the same line if scalar, indented below if not.
    auto entry = [&](const std::string& label, const Json& v) {
        indent(out, level);
        out += label + ":";
        if (isComposite(v)) {
            out += '\n';
            out += humanDump(v, level + 1);
        } else {
            out += ' ';
            dumpScalar(v, out);
        }
    };
    if (value.isArray()) {
        int i = 0;
        for (const Json& v : value.asArray())
            entry("[" + std::to_string(i++) + "]", v);
    } else if (value.isObject()) {
        const Json::Object& members = value.asObject();
        for (size_t i : memberOrder(members)) {
            std::string shown = members[i].first;
            std::replace(shown.begin(), shown.end(), '-', ' ');
            entry(shown, members[i].second);
        }
    } else {
        dumpScalar(value, out);
    }
    return out;
}

} // namespace e2kvm::img

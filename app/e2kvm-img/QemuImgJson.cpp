#include "QemuImgJson.h"

#include "app/json/QdictOrder.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace e2kvm::img {

namespace {

using json::Json;

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
        for (size_t i : json::qdictMemberOrder(members)) {
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
        for (size_t i : json::qdictMemberOrder(members)) {
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

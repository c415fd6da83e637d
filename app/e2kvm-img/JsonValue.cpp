#include "JsonValue.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace e2kvm::img {

namespace {

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

void indent(std::string& out, int level) {
    out.append(size_t(level) * 4, ' ');
}

// Decodes one UTF-8 sequence at s[i]; returns the code point or -1 for invalid input.
long decodeUtf8(const std::string& s, size_t& i) {
    unsigned char c = (unsigned char)s[i++];
    if (c < 0x80)
        return c;
    int extra;
    long cp;
    long min;
    if ((c & 0xE0) == 0xC0) {
        extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    for (int k = 0; k < extra; ++k) {
        if (i >= s.size() || ((unsigned char)s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | ((unsigned char)s[i++] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    return cp;
}

void appendEscapedCodePoint(std::string& out, long cp) {
    char buf[16];
    if (cp >= 0x10000) {
        long v = cp - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04lX\\u%04lX", 0xD800 + (v >> 10),
                      0xDC00 + (v & 0x3FF));
    } else {
        std::snprintf(buf, sizeof buf, "\\u%04lX", cp);
    }
    out += buf;
}

} // namespace

void appendJsonString(std::string& out, const std::string& s) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        long cp = decodeUtf8(s, i);
        switch (cp) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (cp < 0)
                appendEscapedCodePoint(out, 0xFFFD);
            else if (cp < 0x20 || cp >= 0x7F)
                appendEscapedCodePoint(out, cp);
            else
                out += char(cp);
        }
    }
    out += '"';
}

JsonValue& JsonValue::set(const std::string& key, JsonValue v) {
    auto& members = std::get<Object>(value_);
    for (auto& m : members) {
        if (m.first == key) {
            m.second = std::move(v);
            return *this;
        }
    }
    members.emplace_back(key, std::move(v));
    return *this;
}

JsonValue& JsonValue::push(JsonValue v) {
    std::get<Array>(value_).push_back(std::move(v));
    return *this;
}

std::string JsonValue::pretty() const {
    std::string out;
    print(out, 0);
    return out;
}

void JsonValue::print(std::string& out, int level) const {
    if (std::holds_alternative<std::nullptr_t>(value_)) {
        out += "null";
    } else if (auto* b = std::get_if<bool>(&value_)) {
        out += *b ? "true" : "false";
    } else if (auto* n = std::get_if<int64_t>(&value_)) {
        out += std::to_string(*n);
    } else if (auto* s = std::get_if<std::string>(&value_)) {
        appendJsonString(out, *s);
    } else if (auto* a = std::get_if<Array>(&value_)) {
        out += '[';
        bool first = true;
        for (const JsonValue& v : *a) {
            out += first ? "\n" : ",\n";
            first = false;
            indent(out, level + 1);
            v.print(out, level + 1);
        }
        out += '\n';
        indent(out, level);
        out += ']';
    } else {
        const Object& members = std::get<Object>(value_);
        out += '{';
        bool first = true;
        for (size_t i : memberOrder()) {
            out += first ? "\n" : ",\n";
            first = false;
            indent(out, level + 1);
            appendJsonString(out, members[i].first);
            out += ": ";
            members[i].second.print(out, level + 1);
        }
        out += '\n';
        indent(out, level);
        out += '}';
    }
}

std::vector<size_t> JsonValue::memberOrder() const {
    const Object& members = std::get<Object>(value_);
    // Bucket order; newest first within a bucket.
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

bool JsonValue::isComposite() const {
    return std::holds_alternative<Object>(value_) || std::holds_alternative<Array>(value_);
}

void JsonValue::dumpScalar(std::string& out) const {
    if (auto* b = std::get_if<bool>(&value_))
        out += *b ? "true" : "false";
    else if (auto* n = std::get_if<int64_t>(&value_))
        out += std::to_string(*n);
    else if (auto* s = std::get_if<std::string>(&value_))
        out += *s;
    else
        out += "null";
    out += '\n';
}

std::string JsonValue::humanDump(int level) const {
    std::string out;
    if (auto* a = std::get_if<Array>(&value_)) {
        int i = 0;
        for (const JsonValue& v : *a) {
            indent(out, level);
            out += "[" + std::to_string(i++) + "]:";
            out += v.isComposite() ? '\n' : ' ';
            out += v.isComposite() ? v.humanDump(level + 1) : "";
            if (!v.isComposite())
                v.dumpScalar(out);
        }
    } else if (auto* o = std::get_if<Object>(&value_)) {
        for (size_t i : memberOrder()) {
            const auto& [key, v] = (*o)[i];
            indent(out, level);
            std::string shown = key;
            std::replace(shown.begin(), shown.end(), '-', ' ');
            out += shown + ":";
            out += v.isComposite() ? '\n' : ' ';
            if (v.isComposite())
                out += v.humanDump(level + 1);
            else
                v.dumpScalar(out);
        }
    } else {
        dumpScalar(out);
    }
    return out;
}

} // namespace e2kvm::img

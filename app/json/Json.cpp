#include "app/json/Json.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace e2kvm::json {

// ---- value -------------------------------------------------------------------------------

Json Json::object(std::initializer_list<std::pair<std::string, Json>> members) {
    Json j = object();
    for (const auto& m : members)
        j.set(m.first, m.second);
    return j;
}

void Json::setUnsigned(unsigned long long n) {
    if (n <= uint64_t(std::numeric_limits<int64_t>::max()))
        v_ = int64_t(n);
    else
        v_ = uint64_t(n);
}

Json::Type Json::type() const {
    switch (v_.index()) {
    case 0:
        return Type::Null;
    case 1:
        return Type::Bool;
    case 2:
        return Type::Int;
    case 3:
        return Type::UInt;
    case 4:
        return Type::Double;
    case 5:
        return Type::String;
    case 6:
        return Type::Array;
    default:
        return Type::Object;
    }
}

bool Json::isNumber() const {
    Type t = type();
    return t == Type::Int || t == Type::UInt || t == Type::Double;
}

bool Json::isInteger() const {
    Type t = type();
    return t == Type::Int || t == Type::UInt;
}

bool Json::asBool() const {
    if (auto* b = std::get_if<bool>(&v_))
        return *b;
    throw JsonError("not a boolean");
}

const std::string& Json::asString() const {
    if (auto* s = std::get_if<std::string>(&v_))
        return *s;
    throw JsonError("not a string");
}

int64_t Json::asInt() const {
    if (auto* i = std::get_if<int64_t>(&v_))
        return *i;
    throw JsonError("not an integer in range");
}

uint64_t Json::asUInt() const {
    if (auto* i = std::get_if<int64_t>(&v_)) {
        if (*i < 0)
            throw JsonError("negative integer");
        return uint64_t(*i);
    }
    if (auto* u = std::get_if<uint64_t>(&v_))
        return *u;
    throw JsonError("not an integer in range");
}

double Json::asDouble() const {
    if (auto* i = std::get_if<int64_t>(&v_))
        return double(*i);
    if (auto* u = std::get_if<uint64_t>(&v_))
        return double(*u);
    if (auto* d = std::get_if<double>(&v_))
        return *d;
    throw JsonError("not a number");
}

const Json::Array& Json::asArray() const {
    if (auto* a = std::get_if<Array>(&v_))
        return *a;
    throw JsonError("not an array");
}

Json::Array& Json::asArray() {
    if (auto* a = std::get_if<Array>(&v_))
        return *a;
    throw JsonError("not an array");
}

const Json::Object& Json::asObject() const {
    if (auto* o = std::get_if<Object>(&v_))
        return *o;
    throw JsonError("not an object");
}

Json::Object& Json::asObject() {
    if (auto* o = std::get_if<Object>(&v_))
        return *o;
    throw JsonError("not an object");
}

const Json* Json::find(std::string_view key) const {
    auto* o = std::get_if<Object>(&v_);
    if (!o)
        return nullptr;
    for (const auto& m : *o)
        if (m.first == key)
            return &m.second;
    return nullptr;
}

Json& Json::set(const std::string& key, Json value) {
    Object& o = asObject();
    for (auto& m : o)
        if (m.first == key) {
            m.second = std::move(value);
            return *this;
        }
    o.emplace_back(key, std::move(value));
    return *this;
}

Json& Json::push(Json value) {
    asArray().push_back(std::move(value));
    return *this;
}

size_t Json::size() const {
    if (auto* a = std::get_if<Array>(&v_))
        return a->size();
    if (auto* o = std::get_if<Object>(&v_))
        return o->size();
    return 0;
}

bool Json::operator==(const Json& other) const {
    if (isNumber() && other.isNumber() && type() != other.type()) {
        if (type() == Type::Double || other.type() == Type::Double)
            return asDouble() == other.asDouble();
        return false; // Int vs UInt never hold the same value
    }
    return v_ == other.v_;
}

// ---- serializer --------------------------------------------------------------------------

namespace {

// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or returns
// -1 (and advances one byte) for an invalid sequence.
int32_t decodeUtf8(std::string_view s, size_t& i) {
    auto c0 = static_cast<unsigned char>(s[i]);
    if (c0 < 0x80) {
        ++i;
        return c0;
    }
    int len;
    int32_t cp;
    if ((c0 & 0xE0) == 0xC0) {
        len = 2;
        cp = c0 & 0x1F;
    } else if ((c0 & 0xF0) == 0xE0) {
        len = 3;
        cp = c0 & 0x0F;
    } else if ((c0 & 0xF8) == 0xF0) {
        len = 4;
        cp = c0 & 0x07;
    } else {
        ++i;
        return -1;
    }
    if (i + size_t(len) > s.size()) {
        ++i;
        return -1;
    }
    for (int k = 1; k < len; ++k) {
        auto c = static_cast<unsigned char>(s[i + size_t(k)]);
        if ((c & 0xC0) != 0x80) {
            ++i;
            return -1;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    static const int32_t minForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return -1;
    }
    i += size_t(len);
    return cp;
}

void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

// Decodes one character at s[i] the way QEMU's JSON writer reads its strings, and advances i:
// a lead byte and the continuation bytes that follow it (forms of up to six bytes) make one
// character, so a broken or disallowed sequence becomes one U+FFFD (returned as -1). Over-long
// forms, surrogates, code points past U+10FFFF and non-characters are disallowed; C0 80 is
// modified UTF-8's U+0000.
int32_t decodeForOutput(std::string_view s, size_t& i) {
    auto c0 = static_cast<unsigned char>(s[i++]);
    if (c0 < 0x80)
        return c0;
    int len = std::countl_one(c0);
    if (len < 2 || len > 6)
        return -1; // a stray continuation byte, or FE/FF
    int64_t cp = c0 & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
        if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
    }
    static const int64_t minForLen[] = {0, 0, 0x80, 0x800, 0x10000, 0x200000, 0x4000000};
    if (len == 2 && cp == 0)
        return 0;
    bool nonCharacter = (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF);
    if (cp < minForLen[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || nonCharacter)
        return -1;
    return int32_t(cp);
}

void appendEscape(std::string& out, uint32_t unit) {
    static const char digits[] = "0123456789ABCDEF";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4)
        out += digits[(unit >> shift) & 0xF];
}

} // namespace

void appendJsonString(std::string& out, std::string_view s) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        int32_t cp = decodeForOutput(s, i);
        if (cp < 0)
            cp = 0xFFFD;
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
            if (cp >= 0x20 && cp < 0x7F) {
                out += char(cp);
            } else if (cp < 0x10000) {
                appendEscape(out, uint32_t(cp));
            } else {
                uint32_t v = uint32_t(cp) - 0x10000;
                appendEscape(out, 0xD800 | (v >> 10));
                appendEscape(out, 0xDC00 | (v & 0x3FF));
            }
        }
    }
    out += '"';
}

void Json::serialize(std::string& out) const {
    switch (type()) {
    case Type::Null:
        out += "null";
        break;
    case Type::Bool:
        out += std::get<bool>(v_) ? "true" : "false";
        break;
    case Type::Int:
        out += std::to_string(std::get<int64_t>(v_));
        break;
    case Type::UInt:
        out += std::to_string(std::get<uint64_t>(v_));
        break;
    case Type::Double: {
        double d = std::get<double>(v_);
        if (!std::isfinite(d)) {
            out += "null"; // JSON has no infinities
            break;
        }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", d);
        out += buf;
        // Keep it a floating-point literal for readers that care.
        if (!std::strpbrk(buf, ".eEn"))
            out += ".0";
        break;
    }
    case Type::String:
        appendJsonString(out, std::get<std::string>(v_));
        break;
    case Type::Array: {
        out += '[';
        bool first = true;
        for (const Json& e : std::get<Array>(v_)) {
            if (!first)
                out += ", ";
            first = false;
            e.serialize(out);
        }
        out += ']';
        break;
    }
    case Type::Object: {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : std::get<Object>(v_)) {
            if (!first)
                out += ", ";
            first = false;
            appendJsonString(out, k);
            out += ": ";
            v.serialize(out);
        }
        out += '}';
        break;
    }
    }
}

std::string Json::serialize() const {
    std::string out;
    serialize(out);
    return out;
}

// ---- parser ------------------------------------------------------------------------------

namespace {

class Parser {
public:
    Parser(std::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

    Json parseDocument() {
        if (s_.size() > limits_.maxBytes)
            throw JsonError("JSON text too large (" + std::to_string(s_.size()) + " bytes)");
        skipSpace();
        Json v = parseValue(0);
        skipSpace();
        if (pos_ != s_.size())
            fail("unexpected data after the value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw JsonError("JSON parse error at byte " + std::to_string(pos_) + ": " + what);
    }

    void skipSpace() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    void count() {
        if (++elements_ > limits_.maxElements)
            fail("too many values");
    }

    Json parseValue(unsigned depth) {
        if (pos_ >= s_.size())
            fail("expecting value");
        count();
        char c = s_[pos_];
        if (c == '{' || c == '[') {
            if (depth + 1 > limits_.maxDepth)
                fail("nesting deeper than " + std::to_string(limits_.maxDepth));
            return c == '{' ? parseObject(depth + 1) : parseArray(depth + 1);
        }
        if (c == '"' || c == '\'')
            return Json(parseString());
        if (c == '-' || (c >= '0' && c <= '9'))
            return parseNumber();
        if (literal("true"))
            return Json(true);
        if (literal("false"))
            return Json(false);
        if (literal("null"))
            return Json();
        fail("expecting value");
    }

    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word)
            return false;
        size_t end = pos_ + word.size();
        if (end < s_.size() &&
            (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
            return false;
        pos_ = end;
        return true;
    }

    Json parseObject(unsigned depth) {
        ++pos_; // '{'
        Json obj = Json::object();
        Json::Object& members = obj.asObject();
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            return obj;
        }
        for (;;) {
            skipSpace();
            if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\''))
                fail("expecting a member name");
            std::string key = parseString();
            for (const auto& m : members)
                if (m.first == key)
                    fail("duplicate key '" + key.substr(0, 64) + "'");
            skipSpace();
            if (pos_ >= s_.size() || s_[pos_] != ':')
                fail("expecting ':'");
            ++pos_;
            skipSpace();
            members.emplace_back(std::move(key), parseValue(depth));
            skipSpace();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return obj;
            }
            fail("expecting ',' or '}'");
        }
    }

    Json parseArray(unsigned depth) {
        ++pos_; // '['
        Json arr = Json::array();
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            return arr;
        }
        for (;;) {
            skipSpace();
            arr.push(parseValue(depth));
            skipSpace();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return arr;
            }
            fail("expecting ',' or ']'");
        }
    }

    uint32_t hex4() {
        if (pos_ + 4 > s_.size())
            fail("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[pos_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= uint32_t(c - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return v;
    }

    std::string parseString() {
        char quote = s_[pos_++];
        std::string out;
        for (;;) {
            if (pos_ >= s_.size())
                fail("unterminated string");
            auto c = static_cast<unsigned char>(s_[pos_]);
            if (c == static_cast<unsigned char>(quote)) {
                ++pos_;
                return out;
            }
            if (c < 0x20)
                fail("control character in string");
            if (c == '\\') {
                ++pos_;
                if (pos_ >= s_.size())
                    fail("unterminated string");
                char e = s_[pos_++];
                switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        fail("lone low surrogate");
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u')
                            fail("lone high surrogate");
                        pos_ += 2;
                        uint32_t lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    if (cp == 0)
                        fail("\\u0000 is not allowed");
                    appendUtf8(out, cp);
                    break;
                }
                default:
                    fail("bad escape");
                }
                continue;
            }
            if (c < 0x80) {
                out += char(c);
                ++pos_;
                continue;
            }
            size_t start = pos_;
            if (decodeUtf8(s_, pos_) < 0) {
                pos_ = start;
                fail("invalid UTF-8");
            }
            out.append(s_.substr(start, pos_ - start));
        }
    }

    Json parseNumber() {
        size_t start = pos_;
        bool negative = false;
        if (s_[pos_] == '-') {
            negative = true;
            ++pos_;
        }
        if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])))
            fail("bad number");
        if (s_[pos_] == '0' && pos_ + 1 < s_.size() &&
            std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))
            fail("leading zero in number");
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])))
            ++pos_;
        bool isFloat = false;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            isFloat = true;
            ++pos_;
            if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])))
                fail("bad number");
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])))
                ++pos_;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            isFloat = true;
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
                ++pos_;
            if (pos_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[pos_])))
                fail("bad number");
            while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_])))
                ++pos_;
        }
        if (pos_ - start > 400)
            fail("number too long");
        std::string text(s_.substr(start, pos_ - start));
        if (!isFloat) {
            errno = 0;
            if (negative) {
                long long v = std::strtoll(text.c_str(), nullptr, 10);
                if (errno == 0)
                    return Json(int64_t(v));
            } else {
                unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
                if (errno == 0)
                    return Json(v);
            }
            // Out of integer range: a double, as QEMU does.
        }
        double d = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(d))
            fail("number out of range");
        return Json(d);
    }

    std::string_view s_;
    const JsonLimits& limits_;
    size_t pos_ = 0;
    size_t elements_ = 0;
};

} // namespace

Json parseJson(std::string_view text, const JsonLimits& limits) {
    return Parser(text, limits).parseDocument();
}

} // namespace e2kvm::json

#pragma once
// Json: a JSON value as QEMU's QObject models it, a strict parser with limits for hostile input
// (depth, size, number of elements) and a one-line serializer in QEMU's style ({"a": 1}).
// QMP speaks it; e2kvm-img prints it in qemu-img's layouts (app/e2kvm-img/QemuImgJson.h).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace e2kvm::json {

class JsonError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Json {
public:
    enum class Type { Null, Bool, Int, UInt, Double, String, Array, Object };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>; // insertion order, unique keys

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool b) : v_(b) {}
    Json(int n) : v_(int64_t(n)) {}
    Json(unsigned n) : v_(int64_t(n)) {}
    Json(long n) : v_(int64_t(n)) {}
    Json(long long n) : v_(int64_t(n)) {}
    Json(unsigned long n) { setUnsigned(n); }
    Json(unsigned long long n) { setUnsigned(n); }
    Json(double d) : v_(d) {}
    Json(std::string s) : v_(std::move(s)) {}
    Json(const char* s) : v_(std::string(s)) {}
    Json(Array a) : v_(std::move(a)) {}
    Json(Object o) : v_(std::move(o)) {}
    static Json object() { return Json(Object{}); }
    static Json array() { return Json(Array{}); }
    static Json object(std::initializer_list<std::pair<std::string, Json>> members);

    Type type() const;
    bool isNull() const { return type() == Type::Null; }
    bool isBool() const { return type() == Type::Bool; }
    bool isString() const { return type() == Type::String; }
    bool isObject() const { return type() == Type::Object; }
    bool isArray() const { return type() == Type::Array; }
    // Int, UInt or Double.
    bool isNumber() const;
    // A number with an exact integer value.
    bool isInteger() const;

    bool asBool() const;
    const std::string& asString() const;
    int64_t asInt() const;   // JsonError if not an integer that fits
    uint64_t asUInt() const; // JsonError if not a non-negative integer that fits
    double asDouble() const;
    const Array& asArray() const;
    Array& asArray();
    const Object& asObject() const;
    Object& asObject();

    // Objects: the member or null; set replaces or appends.
    const Json* find(std::string_view key) const;
    Json& set(const std::string& key, Json value);
    // Arrays.
    Json& push(Json value);
    size_t size() const; // elements or members; 0 for scalars

    std::string serialize() const;
    void serialize(std::string& out) const;

    bool operator==(const Json& other) const;

private:
    void setUnsigned(unsigned long long n);
    std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string, Array, Object> v_ =
        nullptr;
};

struct JsonLimits {
    size_t maxBytes = 8u << 20;
    unsigned maxDepth = 128;
    size_t maxElements = 1u << 20; // values in one document
};

// Parses exactly one JSON value (surrounding whitespace allowed). Also accepts QEMU's
// single-quoted strings. Throws JsonError with the byte offset on anything malformed:
// duplicate keys, invalid UTF-8, lone surrogates, control characters, numbers out of range.
Json parseJson(std::string_view text, const JsonLimits& limits = {});

// Appends `s` as a JSON string literal as QEMU writes it: ASCII output, other characters as
// \uXXXX with upper-case hex digits (surrogate pairs past U+FFFF); each broken or disallowed
// UTF-8 sequence (over-long, surrogate, non-character) as one U+FFFD, C0 80 as U+0000.
void appendJsonString(std::string& out, std::string_view s);

} // namespace e2kvm::json

#pragma once
// JsonValue: a small JSON tree printed exactly as qemu-img prints its QAPI results (pretty
// layout with four-space indents, object members in QEMU's hash-table order).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace e2kvm::img {

class JsonValue {
public:
    using Object = std::vector<std::pair<std::string, JsonValue>>; // insertion order
    using Array = std::vector<JsonValue>;

    JsonValue() : value_(nullptr) {}
    JsonValue(bool b) : value_(b) {}
    JsonValue(int64_t n) : value_(n) {}
    JsonValue(uint64_t n) : value_(int64_t(n)) {}
    JsonValue(int n) : value_(int64_t(n)) {}
    JsonValue(unsigned n) : value_(int64_t(n)) {}
    JsonValue(std::string s) : value_(std::move(s)) {}
    JsonValue(const char* s) : value_(std::string(s)) {}
    static JsonValue object() { return JsonValue(Object{}); }
    static JsonValue array() { return JsonValue(Array{}); }

    // Members must be added in the order of the QAPI schema: QEMU's dictionary keeps members
    // that share a hash bucket newest first, so that order is part of the output.
    JsonValue& set(const std::string& key, JsonValue v);
    JsonValue& push(JsonValue v);

    // Pretty text, no trailing newline.
    std::string pretty() const;
    // The human layout of `qemu-img info`'s "Format specific information" block: one
    // "key: value" line per scalar (dashes in keys shown as spaces), "[i]:" for list entries,
    // nested values indented four more spaces.
    std::string humanDump(int level) const;

private:
    explicit JsonValue(Object o) : value_(std::move(o)) {}
    explicit JsonValue(Array a) : value_(std::move(a)) {}
    void print(std::string& out, int level) const;
    void dumpScalar(std::string& out) const;
    bool isComposite() const;
    std::vector<size_t> memberOrder() const;

    std::variant<std::nullptr_t, bool, int64_t, std::string, Object, Array> value_;
};

// Appends `s` as a JSON string literal, escaped as QEMU escapes it.
void appendJsonString(std::string& out, const std::string& s);

} // namespace e2kvm::img

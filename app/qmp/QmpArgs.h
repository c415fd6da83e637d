#pragma once
// QmpArgs: reads the members of a command's "arguments" object with QEMU's error wording
// ("Parameter 'node' is missing", "Invalid parameter type for 'granularity', expected:
// integer", "Parameter 'x' is unexpected"). Nested objects keep the dotted path ("addr.path").
#include "app/qmp/Json.h"

#include <optional>
#include <set>
#include <string>

namespace e2kvm::qmp {

class QmpArgs {
public:
    // `args` may be null (no arguments given); `prefix` is the path of this object.
    explicit QmpArgs(const Json* args, std::string prefix = {});

    std::string str(const std::string& key);
    std::optional<std::string> optStr(const std::string& key);
    bool optBool(const std::string& key, bool fallback);
    std::optional<uint64_t> optUInt(const std::string& key);
    std::optional<int64_t> optInt(const std::string& key);
    // The raw member (null if absent), marked as known; the caller checks its type.
    const Json* any(const std::string& key);
    // A required member of any type.
    const Json& require(const std::string& key);
    // A nested object reader (the member must be an object).
    QmpArgs object(const std::string& key);
    std::optional<QmpArgs> optObject(const std::string& key);
    // One of `values` (QAPI enum), with QEMU's message otherwise.
    std::optional<std::string> optEnum(const std::string& key,
                                       std::initializer_list<const char*> values);
    // Members read so far are known; members listed here are accepted and ignored.
    void ignore(std::initializer_list<const char*> keys);
    // Throws for the first member that was never read.
    void finish() const;

    std::string path(const std::string& key) const {
        return prefix_.empty() ? key : prefix_ + "." + key;
    }
    [[noreturn]] void typeError(const std::string& key, const char* expected) const;

private:
    const Json* get(const std::string& key);
    // optUInt / optInt: an integer member read as T, "expects uint64/int64" when out of range.
    template <typename T> std::optional<T> optInteger(const std::string& key);

    const Json* args_;
    std::string prefix_;
    std::set<std::string> known_;
};

} // namespace e2kvm::qmp

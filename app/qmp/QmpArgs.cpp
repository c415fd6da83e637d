#include "app/qmp/QmpArgs.h"

#include "app/qmp/QmpError.h"

#include <type_traits>

namespace e2kvm::qmp {

QmpArgs::QmpArgs(const Json* args, std::string prefix) : args_(args), prefix_(std::move(prefix)) {
    if (args_ && !args_->isObject())
        throw QmpError(prefix_.empty()
                           ? "QMP input member 'arguments' must be an object"
                           : "Invalid parameter type for '" + prefix_ + "', expected: object");
}

const Json* QmpArgs::get(const std::string& key) {
    known_.insert(key);
    if (!args_)
        return nullptr;
    return args_->find(key);
}

void QmpArgs::typeError(const std::string& key, const char* expected) const {
    throw QmpError("Invalid parameter type for '" + path(key) + "', expected: " + expected);
}

const Json& QmpArgs::require(const std::string& key) {
    const Json* v = get(key);
    if (!v)
        throw QmpError("Parameter '" + path(key) + "' is missing");
    return *v;
}

std::string QmpArgs::str(const std::string& key) {
    const Json& v = require(key);
    if (!v.isString())
        typeError(key, "string");
    return v.asString();
}

std::optional<std::string> QmpArgs::optStr(const std::string& key) {
    const Json* v = get(key);
    if (!v)
        return std::nullopt;
    if (!v->isString())
        typeError(key, "string");
    return v->asString();
}

bool QmpArgs::optBool(const std::string& key, bool fallback) {
    const Json* v = get(key);
    if (!v)
        return fallback;
    if (!v->isBool())
        typeError(key, "boolean");
    return v->asBool();
}

template <typename T> std::optional<T> QmpArgs::optInteger(const std::string& key) {
    const Json* v = get(key);
    if (!v)
        return std::nullopt;
    if (!v->isInteger())
        typeError(key, "integer");
    try {
        if constexpr (std::is_signed_v<T>)
            return v->asInt();
        else
            return v->asUInt();
    } catch (const JsonError&) {
        throw QmpError("Parameter '" + path(key) + "' expects " +
                       (std::is_signed_v<T> ? "int64" : "uint64"));
    }
}

std::optional<uint64_t> QmpArgs::optUInt(const std::string& key) {
    return optInteger<uint64_t>(key);
}

std::optional<int64_t> QmpArgs::optInt(const std::string& key) {
    return optInteger<int64_t>(key);
}

const Json* QmpArgs::any(const std::string& key) {
    return get(key);
}

QmpArgs QmpArgs::object(const std::string& key) {
    const Json& v = require(key);
    if (!v.isObject())
        typeError(key, "object");
    return QmpArgs(&v, path(key));
}

std::optional<QmpArgs> QmpArgs::optObject(const std::string& key) {
    const Json* v = get(key);
    if (!v)
        return std::nullopt;
    if (!v->isObject())
        typeError(key, "object");
    return QmpArgs(v, path(key));
}

std::optional<std::string> QmpArgs::optEnum(const std::string& key,
                                            std::initializer_list<const char*> values) {
    std::optional<std::string> v = optStr(key);
    if (!v)
        return v;
    for (const char* allowed : values)
        if (*v == allowed)
            return v;
    throw QmpError("Parameter '" + path(key) + "' does not accept value '" + *v + "'");
}

void QmpArgs::ignore(std::initializer_list<const char*> keys) {
    for (const char* k : keys)
        known_.insert(k);
}

void QmpArgs::finish() const {
    if (!args_)
        return;
    for (const auto& [k, v] : args_->asObject())
        if (!known_.count(k))
            throw QmpError("Parameter '" + path(k) + "' is unexpected");
}

} // namespace e2kvm::qmp

#include "JsonFilename.h"

#include "BlockError.h"
#include "app/json/Json.h"

namespace e2kvm::block {

namespace {

constexpr const char* kPrefix = "json:";

void flatten(const json::Json& value, const std::string& key, DriverOptions& out) {
    using Type = json::Json::Type;
    switch (value.type()) {
    case Type::Object:
        for (const auto& [name, member] : value.asObject())
            flatten(member, key.empty() ? name : key + "." + name, out);
        return;
    case Type::Array: {
        size_t index = 0;
        for (const auto& element : value.asArray())
            flatten(element, key + "." + std::to_string(index++), out);
        return;
    }
    case Type::Null:
        out[key] = "";
        return;
    case Type::Bool:
        out[key] = value.asBool() ? "on" : "off";
        return;
    case Type::String:
        out[key] = value.asString();
        return;
    default:
        out[key] = value.serialize();
        return;
    }
}

} // namespace

bool isJsonFilename(const std::string& name) {
    return name.rfind(kPrefix, 0) == 0;
}

DriverOptions parseJsonFilename(const std::string& name) {
    json::Json value;
    try {
        value =
            json::parseJson(std::string_view(name).substr(std::char_traits<char>::length(kPrefix)));
    } catch (const json::JsonError&) {
        throw BlockError(EINVAL, "Could not parse the JSON options");
    }
    if (!value.isObject())
        throw BlockError(EINVAL, "Invalid JSON object given");
    DriverOptions out;
    flatten(value, "", out);
    return out;
}

} // namespace e2kvm::block

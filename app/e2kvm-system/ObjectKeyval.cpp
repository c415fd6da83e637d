#include "app/e2kvm-system/ObjectKeyval.h"

#include "app/e2kvm-system/BlockdevKeyval.h"
#include "app/e2kvm-system/SystemOptions.h"

namespace e2kvm::sys {

namespace {

qmp::Json typed(const std::string& key, const std::string& value) {
    if (key == "id" || key == "qom-type")
        return qmp::Json(value);
    const bool negative = !value.empty() && value[0] == '-';
    const std::string digits = negative ? value.substr(1) : value;
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
        throw OptionError("Parameter '" + key + "' expects an integer");
    const long long n = std::stoll(digits);
    return qmp::Json(negative ? -n : n);
}

} // namespace

qmp::Json parseObjectArgument(const std::string& spec) {
    const auto items = splitQemuOpts(spec, "qom-type");
    qmp::Json root = qmp::Json::object();
    for (const auto& [key, value] : items) {
        qmp::Json* obj = &root;
        size_t start = 0;
        for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
            qmp::Json& next = memberOf(*obj, key.substr(start, dot - start));
            if (!next.isObject())
                throw OptionError("Parameter '" + key.substr(0, dot) + "' is not an object");
            obj = &next;
        }
        const std::string leaf = key.substr(start);
        if (leaf.empty() || obj->find(leaf))
            throw OptionError("Parameter '" + key + "' given twice");
        obj->set(leaf, typed(key, value));
    }
    if (!root.find("qom-type"))
        throw OptionError("Parameter 'qom-type' is missing");
    return root;
}

} // namespace e2kvm::sys

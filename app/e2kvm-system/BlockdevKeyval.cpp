#include "app/e2kvm-system/BlockdevKeyval.h"
#include "block/OnOffValue.h"

#include "app/e2kvm-system/SystemOptions.h"

#include <cerrno>
#include <cstdlib>
#include <set>

namespace e2kvm::sys {

namespace {

// Options of BlockdevOptions (and its nested file/cache members) whose QAPI type is a
// boolean or an integer; every other value stays a string.
const std::set<std::string>& booleanKeys() {
    static const std::set<std::string> keys = {"read-only",
                                               "auto-read-only",
                                               "force-share",
                                               "direct",
                                               "no-flush",
                                               "read-zeroes",
                                               "lazy-refcounts",
                                               "pass-discard-request",
                                               "pass-discard-snapshot",
                                               "pass-discard-other",
                                               "drop-cache",
                                               "x-check-cache-dropped",
                                               "immediately",
                                               "once"};
    return keys;
}

const std::set<std::string>& integerKeys() {
    static const std::set<std::string> keys = {"size",
                                               "offset",
                                               "latency-ns",
                                               "cache-size",
                                               "l2-cache-size",
                                               "l2-cache-entry-size",
                                               "refcount-cache-size",
                                               "cache-clean-interval"};
    return keys;
}

qmp::Json typedValue(const std::string& where, const std::string& path, const std::string& leaf,
                     const std::string& value) {
    if (booleanKeys().count(leaf)) {
        if (auto on = block::onOffValue(value))
            return qmp::Json(*on);
        throw OptionError(where + ": Parameter '" + path + "' expects 'on' or 'off'");
    }
    if (integerKeys().count(leaf)) {
        // QEMU's sizes: a number with an optional k/M/G/T suffix (powers of 1024).
        errno = 0;
        char* end = nullptr;
        unsigned long long n = std::strtoull(value.c_str(), &end, 0);
        int shift = 0;
        if (end && *end) {
            switch (*end) {
            case 'k':
            case 'K':
                shift = 10;
                break;
            case 'M':
                shift = 20;
                break;
            case 'G':
                shift = 30;
                break;
            case 'T':
                shift = 40;
                break;
            default:
                shift = -1;
            }
            if (shift >= 0 && end[1] != '\0')
                shift = -1;
        }
        if (value.empty() || value[0] == '-' || errno || shift < 0 ||
            (shift && n > (~0ull >> shift)))
            throw OptionError(where + ": Parameter '" + path + "' expects a non-negative " +
                              "number below 2^64");
        return qmp::Json(static_cast<unsigned long long>(n << shift));
    }
    return qmp::Json(value);
}

// QEMU's keyval makes an object whose keys are the indexes 0..n-1 a list ("inject-error.0.event"
// is the first element's "event"), at any depth; keys that are numbers but not all of 0..n-1
// are refused as QEMU does.
void listsFromIndexes(qmp::Json& value, const std::string& where, const std::string& path) {
    if (!value.isObject())
        return;
    bool allIndexes = value.size() != 0;
    bool anyIndex = false;
    for (auto& [k, v] : value.asObject()) {
        const bool index = !k.empty() && k.find_first_not_of("0123456789") == std::string::npos;
        allIndexes = allIndexes && index;
        anyIndex = anyIndex || index;
        listsFromIndexes(v, where, path.empty() ? k : path + "." + k);
    }
    if (!anyIndex)
        return;
    if (!allIndexes)
        throw OptionError(where + ": Parameters '" + path + ".*' used inconsistently");
    qmp::Json list = qmp::Json::array();
    for (size_t i = 0; i < value.size(); ++i) {
        const qmp::Json* element = value.find(std::to_string(i));
        if (!element)
            throw OptionError(where + ": Parameter '" + (path.empty() ? "" : path + ".") +
                              std::to_string(i) + "' missing");
        list.push(*element);
    }
    value = std::move(list);
}

} // namespace

qmp::Json& memberOf(qmp::Json& obj, const std::string& key) {
    for (auto& [k, v] : obj.asObject())
        if (k == key)
            return v;
    obj.set(key, qmp::Json::object());
    return obj.asObject().back().second;
}

qmp::Json parseBlockdevArgument(const std::string& spec) {
    const std::string where = "-blockdev " + spec;
    if (!spec.empty() && spec[0] == '{') {
        qmp::Json j;
        try {
            j = qmp::parseJson(spec);
        } catch (const std::exception& e) {
            throw OptionError(where + ": " + e.what());
        }
        if (!j.isObject())
            throw OptionError(where + ": JSON value must be an object");
        return j;
    }
    std::vector<std::pair<std::string, std::string>> items;
    try {
        items = splitQemuOpts(spec, "driver");
    } catch (const OptionError& e) {
        throw OptionError(where + ": " + e.what());
    }
    qmp::Json root = qmp::Json::object();
    for (const auto& [key, value] : items) {
        qmp::Json* obj = &root;
        size_t start = 0;
        std::string prefix;
        for (;;) {
            size_t dot = key.find('.', start);
            std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
            if (part.empty())
                throw OptionError(where + ": Invalid parameter '" + key + "'");
            std::string path = prefix.empty() ? part : prefix + "." + part;
            if (dot == std::string::npos) {
                if (obj->find(part))
                    throw OptionError(where +
                                      (obj->find(part)->isObject()
                                           ? ": Parameters '" + path + ".*' used inconsistently"
                                           : ": Parameter '" + path + "' given twice"));
                obj->set(part, typedValue(where, path, part, value));
                break;
            }
            const qmp::Json* existing = obj->find(part);
            if (existing && !existing->isObject())
                throw OptionError(where + ": Parameters '" + path + ".*' used inconsistently");
            obj = &memberOf(*obj, part);
            prefix = path;
            start = dot + 1;
        }
    }
    for (auto& [k, v] : root.asObject())
        listsFromIndexes(v, where, k);
    return root;
}

} // namespace e2kvm::sys

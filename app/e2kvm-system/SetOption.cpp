#include "app/e2kvm-system/SetOption.h"

#include "app/e2kvm-system/SystemOptions.h"

#include <optional>

namespace e2kvm::sys {

namespace {

// The option groups -set reaches, with the key a leading item without '=' stands for.
std::optional<std::string> impliedKeyOf(const std::string& group) {
    if (group == "device")
        return std::string("driver");
    if (group == "object")
        return std::string("qom-type");
    if (group == "drive")
        return std::string();
    return std::nullopt;
}

// The id= of an option argument in QEMU's key=value syntax ("" if none or unparsable; a JSON
// -object has no QemuOpts id that -set could name).
std::string idOf(const std::string& spec, const std::string& impliedKey) {
    if (!spec.empty() && spec[0] == '{')
        return "";
    try {
        std::string id;
        for (const auto& [key, value] : splitQemuOpts(spec, impliedKey))
            if (key == "id")
                id = value;
        return id;
    } catch (const OptionError&) {
        return ""; // the option's own parser reports it
    }
}

// `spec` with KEY=VALUE (already escaped) in place of the item that sets KEY, or added at the
// end when none does: the option then reads as if it had been written so (a repeated key
// would be an error for -object).
std::string withProperty(const std::string& spec, const std::string& key, const std::string& item) {
    // Items end at single commas; ",," belongs to a value.
    size_t start = 0;
    while (start <= spec.size()) {
        size_t end = start;
        while (end < spec.size()) {
            if (spec[end] == ',' && end + 1 < spec.size() && spec[end + 1] == ',') {
                end += 2;
                continue;
            }
            if (spec[end] == ',')
                break;
            ++end;
        }
        if (spec.compare(start, key.size() + 1, key + "=") == 0)
            return spec.substr(0, start) + item + spec.substr(end);
        if (end >= spec.size())
            break;
        start = end + 1;
    }
    return spec + "," + item;
}

// A value put into QEMU's option syntax: commas doubled.
std::string escaped(const std::string& value) {
    std::string out;
    for (char c : value) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}

} // namespace

std::vector<std::string> applySetOptions(const std::vector<std::string>& args) {
    struct Given {
        std::string group;
        size_t valueIndex; // in `out`
    };
    std::vector<std::string> out;
    std::vector<Given> given;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        const bool isOption = arg.size() > 1 && arg[0] == '-';
        const std::string opt = !isOption                 ? std::string()
                                : arg.rfind("--", 0) == 0 ? arg.substr(2)
                                                          : arg.substr(1);
        if (isOption && opt == "set") {
            if (i + 1 >= args.size())
                throw OptionError("-set: requires an argument");
            const std::string& spec = args[++i];
            const std::string where = "-set " + spec;
            // GROUP.ID.ARG=VALUE: the group and id end at the first two dots before the '='.
            const size_t eq = spec.find('=');
            const size_t dot1 = spec.find('.');
            const size_t dot2 = dot1 == std::string::npos ? dot1 : spec.find('.', dot1 + 1);
            if (eq == std::string::npos || dot2 == std::string::npos || dot2 > eq || dot1 == 0 ||
                dot2 == dot1 + 1 || eq == dot2 + 1)
                throw OptionError(where + ": can't parse: \"" + spec + "\"");
            const std::string group = spec.substr(0, dot1);
            const std::string id = spec.substr(dot1 + 1, dot2 - dot1 - 1);
            const std::string key = spec.substr(dot2 + 1, eq - dot2 - 1);
            const std::string value = spec.substr(eq + 1);
            std::optional<std::string> implied = impliedKeyOf(group);
            if (!implied)
                throw OptionError(where + ": There is no option group '" + group + "'");
            const Given* target = nullptr;
            for (const Given& g : given)
                if (g.group == group && idOf(out[g.valueIndex], *implied) == id)
                    target = &g; // the last one of that id
            if (!target)
                throw OptionError(where + ": there is no " + group + " \"" + id + "\" defined");
            out[target->valueIndex] =
                withProperty(out[target->valueIndex], key, key + "=" + escaped(value));
            continue;
        }
        out.push_back(arg);
        if (isOption && impliedKeyOf(opt) && i + 1 < args.size()) {
            out.push_back(args[++i]);
            given.push_back({opt, out.size() - 1});
        }
    }
    return out;
}

} // namespace e2kvm::sys

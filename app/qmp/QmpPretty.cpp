#include "app/qmp/QmpPretty.h"

namespace e2kvm::qmp {

namespace {

void indent(std::string& out, int level) {
    out += '\n';
    out.append(size_t(level) * 4, ' ');
}

void pretty(const Json& v, int level, std::string& out) {
    if (v.isObject()) {
        out += '{';
        bool first = true;
        for (const auto& [key, member] : v.asObject()) {
            if (!first)
                out += ',';
            first = false;
            indent(out, level + 1);
            appendJsonString(out, key);
            out += ": ";
            pretty(member, level + 1, out);
        }
        indent(out, level);
        out += '}';
    } else if (v.isArray()) {
        out += '[';
        bool first = true;
        for (const Json& element : v.asArray()) {
            if (!first)
                out += ',';
            first = false;
            indent(out, level + 1);
            pretty(element, level + 1, out);
        }
        indent(out, level);
        out += ']';
    } else {
        v.serialize(out);
    }
}

} // namespace

std::string prettyJson(const Json& value) {
    std::string out;
    pretty(value, 0, out);
    return out;
}

} // namespace e2kvm::qmp

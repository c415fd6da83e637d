#include "app/guestdevices/QemuOpts.h"

namespace e2kvm::guestdev {

std::vector<std::pair<std::string, std::string>> splitQemuOpts(const std::string& text,
                                                               const std::string& impliedKey) {
    std::vector<std::pair<std::string, std::string>> out;
    // Items are split at single commas; ",," stands for a comma inside a value.
    std::vector<std::string> items;
    std::string cur;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ',') {
            if (i + 1 < text.size() && text[i + 1] == ',') {
                cur += ',';
                ++i;
                continue;
            }
            items.push_back(cur);
            cur.clear();
            continue;
        }
        cur += text[i];
    }
    // A comma that ends the text ends the last item, as in QEMU's option parser ("if=none,"):
    // no empty item follows it.
    if (!(cur.empty() && !items.empty()))
        items.push_back(cur);
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string& item = items[i];
        size_t eq = item.find('=');
        if (eq == std::string::npos) {
            if (i == 0 && !impliedKey.empty()) {
                out.emplace_back(impliedKey, item);
                continue;
            }
            if (item.empty())
                throw OptionError("empty parameter (stray comma)");
            throw OptionError("Invalid parameter '" + item + "'");
        }
        if (eq == 0)
            throw OptionError("empty parameter name in '" + item + "'");
        out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    return out;
}

} // namespace e2kvm::guestdev

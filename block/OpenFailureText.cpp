#include "OpenFailureText.h"

namespace e2kvm::block {

std::string openFailureText(const std::string& path, const std::string& message) {
    std::string text = message;
    if (!path.empty() && text.rfind(path + ": ", 0) == 0)
        text.erase(0, path.size() + 2);
    // Every "FILE: Could not open: why" becomes "Could not open 'FILE': why"; FILE starts after
    // the previous ": " (or at the start).
    static const std::string kMarker = ": Could not open: ";
    if (text.rfind("Could not open: ", 0) == 0)
        text = "Could not open '" + path + "': " + text.substr(16);
    for (size_t at; (at = text.find(kMarker)) != std::string::npos;) {
        size_t start = text.rfind(": ", at == 0 ? 0 : at - 1);
        start = start == std::string::npos ? 0 : start + 2;
        const std::string file = text.substr(start, at - start);
        text.replace(start, at + kMarker.size() - start, "Could not open '" + file + "': ");
    }
    return text;
}

} // namespace e2kvm::block

#include "app/vmcore/QemuId.h"

#include <algorithm>
#include <cctype>

namespace e2kvm::vm {

bool wellFormedId(const std::string& id) {
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0])))
        return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

} // namespace e2kvm::vm

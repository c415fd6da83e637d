#pragma once
// onOffValue: QEMU's spellings of a boolean option value, as its option parser takes them
// ("on", "yes", "true", "y" and "off", "no", "false", "n"); every tool's on/off options use it,
// each with its own error for anything else ("Parameter 'KEY' expects 'on' or 'off'").
#include <optional>
#include <string_view>

namespace e2kvm::block {

inline std::optional<bool> onOffValue(std::string_view value) {
    if (value == "on" || value == "yes" || value == "true" || value == "y")
        return true;
    if (value == "off" || value == "no" || value == "false" || value == "n")
        return false;
    return std::nullopt;
}

} // namespace e2kvm::block

#pragma once
// Small text helpers shared by the assembler's parsers.
#include <string>

namespace e2kvm::emu {

// `s` without leading and trailing blanks (space, tab, CR, LF).
inline std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos)
        return {};
    size_t b = s.find_last_not_of(" \t\r\n");
    return s.substr(a, b - a + 1);
}

} // namespace e2kvm::emu

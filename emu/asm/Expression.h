#pragma once
// Expression: GNU as integer expressions (numbers, symbols, ".", numeric local label references
// "1b"/"1f", unary - ~ ! +, binary * / % << >> | & ^ + - and the comparisons, && ||, with GNU
// as's precedence; a true comparison is -1). A value is absolute or relative to one section;
// the difference of two values in the same section is absolute.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace e2kvm::emu {

struct ExprValue {
    int64_t value = 0;
    std::string section;   // empty: absolute; else the section (or "*UND*") it is relative to
    std::string symbol;    // the symbol a relative value came from (for relocations)
    bool symbolic = false; // a label or "." took part (even if the result is absolute)
    bool external = false; // from a global or undefined symbol: PC-relative uses relocate
    bool relocatable() const { return !section.empty(); }
};

// Looks a symbol up; nullopt = not known (yet).
using ExprLookup = std::function<std::optional<ExprValue>(const std::string&)>;

// Throws AsmError (without file/line context). Unknown symbols are 0 unless finalPass.
ExprValue evaluate(const std::string& text, const ExprValue& dot, const ExprLookup& lookup,
                   bool finalPass);

} // namespace e2kvm::emu

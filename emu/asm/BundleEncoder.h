#pragma once
// BundleEncoder: turns the operations of one bundle in MCST GAS syntax ("addd,0 0, 10, %dr0",
// "disp %ctpr1, lbl", "ct %ctpr1 ? ~%pred0", ...) into syllables: literal sharing (LTS),
// condition syllables (CDS), predicate logic (PLS) and CS0/CS1/SS packing.
#include "emu/cpu/Bundle.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::emu {

// Resolves a symbol name to an address; nullopt = unknown (first pass: treated as 0).
using SymbolLookup = std::function<std::optional<uint64_t>(const std::string&)>;

// `ops` are the operation texts of one bundle; `address` is where it will live (for disp,
// ibranch and "."). Throws AsmError (without file/line context) on invalid input.
RawBundle encodeBundle(const std::vector<std::string>& ops, uint64_t address,
                       const SymbolLookup& lookup, bool finalPass = true);

// Convenience for tests: "{ op; op }" or "op; op" at `address`, no symbols.
std::vector<uint32_t> assembleBundleText(const std::string& text, uint64_t address = 0);

// Splits "a; b; c" at top level (not inside brackets or quotes) and trims the parts.
std::vector<std::string> splitOps(const std::string& text);

// Parses an integer expression: number, symbol, ".", and + / - chains.
int64_t evalExpr(const std::string& expr, uint64_t dot, const SymbolLookup& lookup, bool finalPass,
                 bool* symbolic = nullptr);

} // namespace e2kvm::emu

#pragma once
// BundleEncoder: turns the operations of one bundle in MCST GAS syntax ("addd,0 0, 10, %dr0",
// "disp %ctpr1, lbl", "ct %ctpr1 ? ~%pred0", ...) into syllables: literal sharing (LTS),
// condition syllables (CDS), predicate logic (PLS) and CS0/CS1/SS packing. A literal may
// be written with MCST's format and place ("_f16s,_lts1hi 5", "_f64 0x10").
#include "emu/asm/Expression.h"
#include "emu/cpu/Bundle.h"

#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::emu {

// A value in a bundle that the linker completes: a relocatable literal (in LTS ltsIndex, and
// ltsIndex+1 for the high half of a 64-bit one) or the displacement in CS0.
struct BundleFixup {
    enum Kind { Literal32, Literal64, Disp } kind = Literal32;
    unsigned ltsIndex = 0;
    ExprValue value;
};

struct BundleContext {
    ExprValue dot;         // where the bundle will live (for disp, ibranch and ".")
    ExprLookup lookup;     // symbols
    bool finalPass = true; // unknown symbols are errors
    // Relocatable output: literals take the shortest form for their value (as MCST's as
    // picks them) and symbols of other sections become fixups. Otherwise a literal from a
    // symbol always takes 32 bits, so that sizes settle while addresses are laid out.
    bool objectMode = false;
    std::vector<BundleFixup>* fixups = nullptr;
    bool standalone = false; // one operation written outside braces
};

// `ops` are the operation texts of one bundle. Throws AsmError (without file/line context)
// on invalid input.
RawBundle encodeBundle(const std::vector<std::string>& ops, const BundleContext& context);

// Convenience for tests: "{ op; op }" or "op; op" at `address`, no symbols.
std::vector<uint32_t> assembleBundleText(const std::string& text, uint64_t address = 0);

// Splits "a; b; c" at top level (not inside brackets or quotes) and trims the parts.
std::vector<std::string> splitOps(const std::string& text);

} // namespace e2kvm::emu

#pragma once
// PrefetchInstruction: the `fapb` instructions of an array prefetch program (the program
// `ldisp` names and `bap` starts) in MCST GAS syntax. One such instruction takes 16 bytes:
// APS0 and APLS0 (the left half, feeding MOVA channels 0-1, written `fapb ct=...`), then APS1
// and APLS1 (the right half, `fapb dpl=...`); a half that is not written is zero.
// APS fields: ct/dpl 31, si 30, dcd 29:28, fmt 27:25, mrng 24:20, d 19:15, incr 14:12 (or
// be 14, am 13 with si=1), ind 11:8 (or area 12:8 with si=1), asz 7:5, abs 4:0; APLS is disp.
#include "emu/asm/Expression.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::emu {

// True if `op` is a `fapb` instruction (a bundle holding one is a prefetch instruction).
bool isPrefetchOp(const std::string& op);

// The four words (APS0, APLS0, APS1, APLS1) of the `fapb` instructions `ops` (one or two, at
// most one per half). Field values are expressions that must be absolute. Throws AsmError
// (without file/line context) on an unknown field, a value that does not fit its field, a
// half written twice, or another operation among them.
std::array<uint32_t, 4> encodePrefetchInstruction(const std::vector<std::string>& ops,
                                                  const ExprValue& dot, const ExprLookup& lookup,
                                                  bool finalPass);

// The halves of the 16 bytes at `bytes` as MCST's objdump prints them, one string each
// ("apb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0x0",
// "apb dpl=0, fmt=0").
std::array<std::string, 2> prefetchListing(const uint8_t* bytes);

// The same 16 bytes as e2kvm-as source that assembles back to them:
// "{ fapb ct=1, dcd=0, ...; fapb dpl=0, fmt=0 }".
std::string prefetchSource(const uint8_t* bytes);

} // namespace e2kvm::emu

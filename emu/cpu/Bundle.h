#pragma once
// Bundle: the raw syllables of one E2K wide instruction and the two halves of its layout rules
// (ISA notes §1.3): unpackBundle reads memory bytes into syllables, packBundle writes them back.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace e2kvm::emu {

struct RawBundle {
    uint32_t hs = 0;
    bool hasSs = false, hasCs0 = false, hasCs1 = false;
    uint32_t ss = 0, cs0 = 0, cs1 = 0;
    uint8_t alsMask = 0;  // bit i: ALSi present
    uint8_t alesMask = 0; // bit i: ALESi present
    std::array<uint32_t, 6> als{};
    std::array<uint16_t, 6> ales{};
    // AAS half-syllables (SS format 1 bits 15:12): aas[2 + i] is MOVA channel i, aas[0]/aas[1]
    // hold the destinations of channels 0-1 / 2-3. aasMask bit j: aas[j] present.
    uint8_t aasMask = 0;
    std::array<uint16_t, 6> aas{};
    bool ales25Word = false; // the ALES2/ALES5 word was allocated (elbrus-v4 form)
    unsigned ltsCount = 0;   // LTS words present (LTS0 nearest the end)
    std::array<uint32_t, 4> lts{};
    unsigned plsCount = 0, cdsCount = 0;
    std::array<uint32_t, 3> pls{};
    std::array<uint32_t, 3> cds{};
    unsigned nop = 0;
    bool loopMode = false;
    unsigned sizeBytes = 0; // 8..64
};

// Reads the bundle at `bytes` (at most `avail` bytes readable). Returns false if the layout is
// invalid (too short, front part mismatch, reserved bits); `out` is then unspecified.
bool unpackBundle(const uint8_t* bytes, size_t avail, RawBundle& out);

// Lays out the syllables (HS fields lng/mdl/presence are computed here) and returns the words
// in memory order. Throws std::invalid_argument when the bundle would exceed 16 words.
std::vector<uint32_t> packBundle(const RawBundle& b);

inline uint32_t readLe32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

} // namespace e2kvm::emu

#pragma once
// ArrayAccessUnit: the E2K array access unit's architectural state as user code sees it
// (ISA notes §8): 32 array descriptors (%aadN), index registers %aastiN (staa), %aaindN and
// increments %aaincrN, and the array prefetch buffer's areas loaded by `bap` from the
// `ldisp` program. A prefetch area is modelled by where its next element lies in memory; MOVA
// reads that element directly (no buffer timing).
#include <cstdint>

namespace e2kvm::emu {

// One 8-byte word of an `fapb` instruction (the left word feeds MOVA channels 0-1, the right
// one channels 2-3).
struct PrefetchInstr {
    uint64_t raw = 0;
    unsigned ind() const { return (raw >> 8) & 0xF; }
    unsigned incr() const { return (raw >> 12) & 7; }
    unsigned aad() const { return (raw >> 15) & 0x1F; }
    unsigned fmt() const { return (raw >> 25) & 7; }
    bool ct() const { return (raw >> 31) & 1; }
    uint32_t disp() const { return uint32_t(raw >> 32); }
    // Element size of the format (1 byte .. 16 bytes), 0 for an inactive or reserved format.
    unsigned elementSize() const {
        const unsigned f = fmt();
        return f >= 1 && f <= 5 ? 1u << (f - 1) : 0;
    }
};

struct PrefetchArea {
    PrefetchInstr instr;
    uint32_t index = 0; // current data index: bytes from the array's start
};

// Which AAU register an aaurw/aaurr names (ALS 11:10 of staa/ldaa with MAS 0x3f).
enum class AauReg : uint8_t { Aad = 0, Aasti = 1, Aaind = 2, Aaincr = 3 };

struct ArrayAccessUnit {
    static constexpr unsigned kAreas = 32;
    uint64_t aadLo[32] = {};
    uint64_t aadHi[32] = {};
    uint32_t aasti[16] = {};
    uint32_t aaind[16] = {};  // %aaind0 is always 0
    uint32_t aaincr[8] = {1}; // %aaincr0 is always 1
    PrefetchArea areas[2][kAreas];

    uint64_t aadBase(unsigned n) const { return aadLo[n & 31] & ((uint64_t(1) << 48) - 1); }

    // aaurw (32-bit value) / aaurwd (64-bit): `wide` says which.
    void write(AauReg reg, unsigned index, uint64_t value, bool wide);
    uint64_t read(AauReg reg, unsigned index, bool wide) const;

    // bap: the program's words (left, right per 16-byte instruction, `count` instructions);
    // each active area starts at its %aaind.
    void loadProgram(const uint64_t (*words)[2], unsigned count);

    // Address MOVA `channel` reads for `size` bytes at byte `ind` of `area`; false when the
    // area cannot give it (inactive, format narrower than the read, misaligned).
    bool movaAddress(unsigned channel, unsigned area, unsigned ind, unsigned size,
                     uint64_t& addr) const;
    // MOVA with am = 1: the area moves on by %aaincr elements.
    void advance(unsigned channel, unsigned area);
};

} // namespace e2kvm::emu

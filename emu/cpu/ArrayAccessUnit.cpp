#include "emu/cpu/ArrayAccessUnit.h"

namespace e2kvm::emu {

namespace {
constexpr uint64_t kBaseMask = (uint64_t(1) << 48) - 1;
constexpr uint64_t kAadRw = uint64_t(3) << 59; // descriptor readable and writable
} // namespace

void ArrayAccessUnit::write(AauReg reg, unsigned index, uint64_t value, bool wide) {
    switch (reg) {
    case AauReg::Aad: {
        uint64_t& lo = aadLo[index & 31];
        if (wide) // base 47:0, mb/ed 58:57
            lo = (value & kBaseMask) | (value & (uint64_t(3) << 57)) | kAadRw;
        else
            lo = (lo & ~kBaseMask & ~(uint64_t(7) << 54)) | uint32_t(value) | kAadRw;
        break;
    }
    case AauReg::Aasti:
        aasti[index & 15] = uint32_t(value);
        break;
    case AauReg::Aaind:
        if (index & 15)
            aaind[index & 15] = uint32_t(value);
        break;
    case AauReg::Aaincr:
        if (index & 7)
            aaincr[index & 7] = uint32_t(value);
        break;
    }
}

uint64_t ArrayAccessUnit::read(AauReg reg, unsigned index, bool wide) const {
    switch (reg) {
    case AauReg::Aad:
        return wide ? aadLo[index & 31] : uint32_t(aadLo[index & 31]);
    case AauReg::Aasti:
        return aasti[index & 15];
    case AauReg::Aaind:
        return aaind[index & 15];
    case AauReg::Aaincr:
        return aaincr[index & 7];
    }
    return 0;
}

void ArrayAccessUnit::loadProgram(const uint64_t (*words)[2], unsigned count) {
    for (unsigned i = 0; i < kAreas; ++i) {
        for (unsigned side = 0; side < 2; ++side) {
            PrefetchArea& a = areas[side][i];
            a.instr.raw = i < count ? words[i][side] : 0;
            a.index = a.instr.fmt() ? aaind[a.instr.ind()] : 0;
        }
    }
}

bool ArrayAccessUnit::movaAddress(unsigned channel, unsigned area, unsigned ind, unsigned size,
                                  uint64_t& addr) const {
    const PrefetchArea& a = areas[channel >> 1][area % kAreas];
    const unsigned element = a.instr.elementSize();
    // A read wider than the area's elements has no data behind it (the suite's mova-fmt
    // tests: movah with fmt=1, movad with fmt<=3 fault when the value is used).
    if (element == 0 || size > element)
        return false;
    addr = (aadBase(a.instr.aad()) + a.index + a.instr.disp() + ind) & kBaseMask;
    // elbrus-v3 (iset <= 4) has no unaligned MOVA (the suite's mova-unaligned-1).
    return (addr & (size - 1)) == 0;
}

void ArrayAccessUnit::advance(unsigned channel, unsigned area) {
    PrefetchArea& a = areas[channel >> 1][area % kAreas];
    a.index += a.instr.elementSize() * aaincr[a.instr.incr()];
}

} // namespace e2kvm::emu

#include "emu/cpu/Bundle.h"

#include <stdexcept>

namespace e2kvm::emu {

namespace {
constexpr uint16_t kAlesNone = 0x01C0;
constexpr unsigned kHalfOrder[4] = {0, 1, 3, 4};

// Byte offset of the k-th half-syllable inside the half-syllable area (first one high half).
unsigned halfOffset(unsigned k) {
    return 2 * ((k & ~1u) + 1 - (k & 1u));
}
} // namespace

bool unpackBundle(const uint8_t* bytes, size_t avail, RawBundle& b) {
    if (avail < 8)
        return false;
    b = RawBundle{};
    uint32_t hs = readLe32(bytes);
    b.hs = hs;
    b.sizeBytes = (((hs >> 4) & 7) + 1) * 8;
    if (avail < b.sizeBytes)
        return false;
    b.nop = (hs >> 7) & 7;
    b.loopMode = (hs >> 10) & 1;
    b.hasSs = (hs >> 12) & 1;
    b.hasCs0 = (hs >> 14) & 1;
    b.hasCs1 = (hs >> 15) & 1;
    b.cdsCount = (hs >> 16) & 3;
    b.plsCount = (hs >> 18) & 3;
    b.alesMask = (hs >> 20) & 0x3F;
    b.alsMask = (hs >> 26) & 0x3F;
    const unsigned size = b.sizeBytes;
    const unsigned front = ((hs & 0xF) + 1) * 4;
    unsigned pos = 4;
    auto word = [&](unsigned at) { return readLe32(bytes + at); };
    if (b.hasSs) {
        b.ss = word(pos);
        pos += 4;
        // Format 2 (invts/flushts) is not supported.
        if ((b.ss >> 20) & 1)
            return false;
        for (unsigned i = 0; i < 4; ++i)
            if (b.ss & (1u << (12 + i)))
                b.aasMask |= uint8_t(1u << (i / 2) | 1u << (2 + i));
    }
    for (unsigned i = 0; i < 6; ++i) {
        if (b.alsMask & (1u << i)) {
            if (pos + 4 > size)
                return false;
            b.als[i] = word(pos);
            pos += 4;
        }
    }
    if (b.hasCs0) {
        if (pos + 4 > size)
            return false;
        b.cs0 = word(pos);
        pos += 4;
    }
    if (b.alesMask & 0x04)
        b.ales[2] = kAlesNone;
    if (b.alesMask & 0x20)
        b.ales[5] = kAlesNone;
    if ((b.alesMask & 0x24) && front == pos + (b.hasCs1 ? 8u : 4u)) {
        if (pos + 4 > size)
            return false;
        uint32_t w = word(pos);
        pos += 4;
        b.ales25Word = true;
        if (b.alesMask & 0x20)
            b.ales[5] = uint16_t(w & 0xFFFF);
        if (b.alesMask & 0x04)
            b.ales[2] = uint16_t(w >> 16);
    }
    if (b.hasCs1) {
        if (pos + 4 > size)
            return false;
        b.cs1 = word(pos);
        pos += 4;
    }
    if (pos != front || pos > size)
        return false;
    unsigned k = 0;
    for (unsigned i : kHalfOrder) {
        if (b.alesMask & (1u << i)) {
            unsigned off = pos + halfOffset(k++);
            if (off + 2 > size)
                return false;
            b.ales[i] = uint16_t(bytes[off] | bytes[off + 1] << 8);
        }
    }
    for (unsigned i = 0; i < 6; ++i) {
        if (b.aasMask & (1u << i)) {
            unsigned off = pos + halfOffset(k++);
            if (off + 2 > size)
                return false;
            b.aas[i] = uint16_t(bytes[off] | bytes[off + 1] << 8);
        }
    }
    unsigned halfEnd = pos + ((k + 1) / 2) * 4;
    unsigned tail = size;
    if (halfEnd > size || (b.cdsCount + b.plsCount) * 4 > size - halfEnd)
        return false;
    for (unsigned i = 0; i < b.cdsCount; ++i) {
        tail -= 4;
        b.cds[i] = word(tail);
    }
    for (unsigned i = 0; i < b.plsCount; ++i) {
        tail -= 4;
        b.pls[i] = word(tail);
    }
    if (tail < halfEnd)
        return false;
    unsigned ltsWords = (tail - halfEnd) / 4;
    b.ltsCount = ltsWords > 4 ? 4 : ltsWords; // words beyond 4 are unused "gap" syllables
    for (unsigned i = 0; i < b.ltsCount; ++i)
        b.lts[i] = word(tail - 4 * (i + 1));
    return true;
}

std::vector<uint32_t> packBundle(const RawBundle& b) {
    std::vector<uint32_t> front{0};
    if (b.hasSs)
        front.push_back(b.ss);
    for (unsigned i = 0; i < 6; ++i)
        if (b.alsMask & (1u << i))
            front.push_back(b.als[i]);
    if (b.hasCs0)
        front.push_back(b.cs0);
    bool word25 = b.ales25Word || ((b.alesMask & 0x04) && b.ales[2] != kAlesNone) ||
                  ((b.alesMask & 0x20) && b.ales[5] != kAlesNone);
    if (word25 && (b.alesMask & 0x24)) {
        uint16_t a5 = (b.alesMask & 0x20) ? b.ales[5] : 0;
        uint16_t a2 = (b.alesMask & 0x04) ? b.ales[2] : 0;
        front.push_back(uint32_t(a2) << 16 | a5);
    }
    if (b.hasCs1)
        front.push_back(b.cs1);
    std::vector<uint16_t> halves;
    for (unsigned i : kHalfOrder)
        if (b.alesMask & (1u << i))
            halves.push_back(b.ales[i]);
    for (unsigned i = 0; i < 6; ++i)
        if (b.aasMask & (1u << i))
            halves.push_back(b.aas[i]);
    std::vector<uint32_t> halfWords((halves.size() + 1) / 2, 0);
    for (size_t k = 0; k < halves.size(); ++k) {
        if (k & 1)
            halfWords[k / 2] |= halves[k];
        else
            halfWords[k / 2] |= uint32_t(halves[k]) << 16;
    }
    size_t total = front.size() + halfWords.size() + b.ltsCount + b.plsCount + b.cdsCount;
    bool pad = total & 1;
    total += pad;
    if (total > 16)
        throw std::invalid_argument("bundle needs " + std::to_string(total) +
                                    " syllables, at most 16 fit");
    uint32_t hs = uint32_t(front.size() - 1) | uint32_t(total / 2 - 1) << 4 |
                  uint32_t(b.nop & 7) << 7 | uint32_t(b.loopMode) << 10 | uint32_t(b.hasSs) << 12 |
                  uint32_t(b.hasCs0) << 14 | uint32_t(b.hasCs1) << 15 | uint32_t(b.cdsCount) << 16 |
                  uint32_t(b.plsCount) << 18 | uint32_t(b.alesMask & 0x3F) << 20 |
                  uint32_t(b.alsMask & 0x3F) << 26 | (b.hs & 0x2800);
    front[0] = hs;
    std::vector<uint32_t> out = front;
    out.insert(out.end(), halfWords.begin(), halfWords.end());
    if (pad)
        out.push_back(0);
    for (unsigned i = b.ltsCount; i-- > 0;)
        out.push_back(b.lts[i]);
    for (unsigned i = b.plsCount; i-- > 0;)
        out.push_back(b.pls[i]);
    for (unsigned i = b.cdsCount; i-- > 0;)
        out.push_back(b.cds[i]);
    return out;
}

} // namespace e2kvm::emu

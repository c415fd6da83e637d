#pragma once
// Hex text of golden encodings for the assembler tests: words and bytes as the tests print
// and compare them, and the little-endian bytes of a list of 32-bit words.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace e2kvm::emu::test {

// "0000a021 c0007000 " (each word in 8 hex digits and a space).
inline std::string hexWords(const std::vector<uint32_t>& words) {
    std::string s;
    char buf[12];
    for (uint32_t w : words) {
        std::snprintf(buf, sizeof buf, "%08x ", w);
        s += buf;
    }
    return s;
}

// "21a00000..." (two hex digits a byte, nothing between).
inline std::string hexBytes(const std::vector<uint8_t>& bytes) {
    std::string s;
    char buf[4];
    for (uint8_t b : bytes) {
        std::snprintf(buf, sizeof buf, "%02x", b);
        s += buf;
    }
    return s;
}

// The words as they lie in memory (little-endian).
inline std::vector<uint8_t> bytesOf(const std::vector<uint32_t>& words) {
    std::vector<uint8_t> out;
    for (uint32_t w : words)
        for (unsigned i = 0; i < 4; ++i)
            out.push_back(uint8_t(w >> (8 * i)));
    return out;
}

} // namespace e2kvm::emu::test

#include "app/ioshell/IoNumbers.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace e2kvm::io {

namespace {

enum class ParseFailure { None, Invalid, TooLarge };

ParseFailure parseCount(const std::string& text, uint64_t& result, IoOutput& output) {
    const char* s = text.c_str();
    // Leading white space is skipped, as strtoull does (a tab inside a command word).
    while (std::isspace((unsigned char)*s))
        ++s;
    if (*s == '\0' || *s == '-')
        return ParseFailure::Invalid;
    bool hex = false;
    const char* digits = s;
    if (*digits == '+')
        ++digits;
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        hex = true;
    char* end = nullptr;
    errno = 0;
    unsigned long long whole = std::strtoull(digits, &end, hex ? 16 : 10);
    if (end == digits || (hex && end == digits + 2))
        return ParseFailure::Invalid;
    if (errno == ERANGE)
        return ParseFailure::TooLarge;
    // An optional decimal fraction (decimal numbers only) that needs a unit suffix.
    long double fraction = 0;
    bool hasFraction = false;
    if (*end == '.') {
        if (hex)
            return ParseFailure::Invalid;
        const char* f = end + 1;
        long double scale = 0.1L;
        while (std::isdigit((unsigned char)*f)) {
            fraction += scale * (*f - '0');
            scale /= 10;
            ++f;
        }
        hasFraction = true;
        end = const_cast<char*>(f);
    }
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'b':
    case 'B':
        ++end;
        break;
    case 'k':
    case 'K':
        shift = 10;
        ++end;
        break;
    case 'm':
    case 'M':
        shift = 20;
        ++end;
        break;
    case 'g':
    case 'G':
        shift = 30;
        ++end;
        break;
    case 't':
    case 'T':
        shift = 40;
        ++end;
        break;
    case 'p':
    case 'P':
        shift = 50;
        ++end;
        break;
    case 'e':
    case 'E':
        shift = 60;
        ++end;
        break;
    default:
        return ParseFailure::Invalid;
    }
    if (*end != '\0')
        return ParseFailure::Invalid;
    if (hasFraction && shift == 0)
        return ParseFailure::Invalid;
    if (hex && shift != 0)
        output.report("warning: Using a multiplier suffix on hex numbers is deprecated: " + text);
    const uint64_t limit = uint64_t(INT64_MAX);
    if (shift > 0 && whole > (limit >> shift))
        return ParseFailure::TooLarge;
    uint64_t value = uint64_t(whole) << shift;
    if (hasFraction) {
        auto extra = (uint64_t)std::floor(fraction * (long double)(uint64_t(1) << shift));
        if (extra > limit - value)
            return ParseFailure::TooLarge;
        value += extra;
    }
    if (value > limit)
        return ParseFailure::TooLarge;
    result = value;
    return ParseFailure::None;
}

} // namespace

std::optional<uint64_t> parseByteCount(const std::string& text, IoOutput& out) {
    uint64_t value = 0;
    switch (parseCount(text, value, out)) {
    case ParseFailure::None:
        return value;
    case ParseFailure::TooLarge:
        out.outf("Parsing error: argument too large -- %s\n", text.c_str());
        return std::nullopt;
    case ParseFailure::Invalid:
        break;
    }
    out.outf("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- %s\n",
             text.c_str());
    return std::nullopt;
}

std::optional<uint8_t> parsePatternByte(const std::string& text, IoOutput& out) {
    const char* s = text.c_str();
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(s, &end, 0);
    if (end == s || *end != '\0' || errno == ERANGE || value < 0 || value > 255 ||
        std::isspace((unsigned char)*s)) {
        out.outf("%s is not a valid pattern byte\n", text.c_str());
        return std::nullopt;
    }
    return uint8_t(value);
}

} // namespace e2kvm::io

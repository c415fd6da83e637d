#pragma once
// Number parsing for e2kvm-io commands, with qemu-io's accepted syntax and error texts:
// byte counts with optional k/M/G/T/P/E suffixes ("4k", "1.5M", "0x200") and pattern bytes.
#include "app/ioshell/IoOutput.h"

#include <cstdint>
#include <optional>
#include <string>

namespace e2kvm::io {

// Parses an offset or length. On failure prints qemu-io's "Parsing error: ..." line on `out`'s
// standard output and returns nothing. Values above INT64_MAX are rejected as too large. A
// multiplier suffix on a hex number is accepted with qemu-io's deprecation warning.
std::optional<uint64_t> parseByteCount(const std::string& text, IoOutput& out);

// Parses a pattern byte ("0xab", "171", "017"). On failure prints
// "<text> is not a valid pattern byte" and returns nothing.
std::optional<uint8_t> parsePatternByte(const std::string& text, IoOutput& out);

} // namespace e2kvm::io

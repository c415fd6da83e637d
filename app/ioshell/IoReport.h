#pragma once
// Output formatting shared by e2kvm-io commands, in qemu-io's exact shapes: human sizes
// ("1.500 KiB"), elapsed times ("00.00"), the per-command statistics lines and -v hex dumps.
#include "app/ioshell/IoOutput.h"

#include <cstdint>
#include <span>
#include <string>

namespace e2kvm::io {

// "512 bytes", "4 KiB", "1.938 MiB": the largest binary unit not above the value, three
// decimals, with a ".000" fraction dropped.
std::string humanSize(double bytes);

// Elapsed time as qemu-io prints it: "SS.cc", "MM:SS.cc" or "H:MM:SS.cc"; `fixed` always
// uses "H:MM:SS.cc" (the -C machine format).
std::string elapsedString(double seconds, bool fixed);

// Monotonic clock in seconds.
double nowSeconds();

// "read 512/512 bytes at offset 0" (verb "read", "wrote", "discard") and the statistics
// line after it; `machine` is -C ("bytes,ops,time,bytes/s,ops/s").
void printTransferReport(IoOutput& out, const char* verb, uint64_t offset, uint64_t bytes,
                         double seconds, bool machine);

// qemu-io's -v dump: "%08x:  " + up to 16 "xx " + " " + printable characters.
void printHexDump(IoOutput& out, uint64_t offset, std::span<const uint8_t> data);

} // namespace e2kvm::io

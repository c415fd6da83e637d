#pragma once
// Sizes as QEMU prints them for people (qemu-img, the monitor's info snapshots): "1 GiB", "64 KiB",
// "2.05 MiB", "0 B".
#include <cstdint>
#include <string>

namespace e2kvm::block {

// Three significant digits and the largest binary unit that keeps the number below 1000.
std::string humanSize(uint64_t bytes);

} // namespace e2kvm::block

#pragma once
// SizeText: byte counts as the panels show them, like qemu-img does for people: at most three
// significant digits and the largest binary unit below 1024 ("0 B", "64 KiB", "1.5 GiB").
#include <QString>

#include <cstdint>

namespace e2kvm::ui {

QString sizeText(uint64_t bytes);

} // namespace e2kvm::ui

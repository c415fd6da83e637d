#pragma once
// Disassembler: prints one E2K bundle in the syntax BundleEncoder accepts, so that
// disassembling and assembling again gives back the same bytes for canonical encodings.
#include "emu/cpu/Bundle.h"

#include <cstdint>
#include <string>

namespace e2kvm::emu {

// "{ setwd wsz=8, nfx=1; disp %ctpr1, 0x150 }"; targets are printed as absolute addresses.
std::string disassembleBundle(const RawBundle& b, uint64_t address);

} // namespace e2kvm::emu

#pragma once
// FastPlan: decides whether a decoded bundle (operands already bound to register slots) can
// run on the interpreter's fast path and lays out DecodedBundle::fast: execution order,
// which ops write in place and which are deferred to the commit.
#include "emu/cpu/DecodedBundle.h"

namespace e2kvm::emu {

// Fills b.fast (b.fast.usable = false if the bundle needs the general path). `regs` are the
// register slots the operands were bound to, `sink` the slot that %empty results go to.
void planFastPath(DecodedBundle& b, uint64_t* regs, uint64_t* sink);

} // namespace e2kvm::emu

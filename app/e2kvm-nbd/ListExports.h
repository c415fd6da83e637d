#pragma once
// `e2kvm-nbd -L`: connect as a client and print the server's exports like `qemu-nbd -L`.
#include "NbdToolOptions.h"

namespace e2kvm::app {

// Returns the process exit status.
int listExports(const NbdToolOptions& options);

} // namespace e2kvm::app

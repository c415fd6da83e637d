#pragma once
// MachineState: the whole state of a stopped e2k-vm machine as bytes (docs/machine.md, "Saved
// machine state"): CPU registers and stacks state, RAM (zero pages left out), every device's
// registers, the virtual clock and the bundle counters. What savevm stores in a disk image's VM
// state area and loadvm puts back. Machine thread only, between bundle batches.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

namespace e2kvm::emu {

class Machine;

// A stream that is not an e2k-vm machine state, is damaged, or belongs to a different machine
// (RAM size, display, disk slots). what() says which.
class MachineStateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class MachineState {
public:
    static constexpr char kMagic[8] = {'E', '2', 'K', 'V', 'M', 'S', 'T', 'A'};
    static constexpr uint32_t kVersion = 1;

    static std::vector<uint8_t> save(Machine& m);
    // Checks the stream (magic, version, length, checksum, that it was saved from a machine
    // like `m`) before changing anything; throws MachineStateError and leaves `m` as it was.
    // Afterwards the machine continues exactly where it was saved (decoded bundles and host
    // code translations are dropped, as reset() does). Should a checked stream still prove
    // inconsistent part-way (a state no machine could be in), `m` is reset and the error thrown.
    static void load(Machine& m, std::span<const uint8_t> bytes);
};

} // namespace e2kvm::emu

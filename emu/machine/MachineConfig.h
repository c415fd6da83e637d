#pragma once
// MachineConfig: everything needed to build an e2k-vm machine (docs/machine.md): RAM size, boot
// ROM or kernel, and the disks, which the caller has already opened through the block layer so
// that QMP, NBD exports and the GUI share the same image (and its dirty bitmaps).
#include "block/BlockDriver.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::emu {

struct MachineDisk {
    std::string id;                            // node name / drive id ("disk0", ...)
    std::shared_ptr<block::BlockDriver> image; // thread-safe block driver
    bool readOnly = false;
};

struct MachineConfig {
    std::string name = "e2k-vm";
    uint64_t ramBytes = 256ull << 20;
    std::string biosPath;           // flat ROM image; empty = the built-in default ROM, if any
    std::vector<uint8_t> biosImage; // the built-in ROM's bytes (used when biosPath is empty)
    std::string kernelPath;         // static E2K ELF loaded into RAM and started directly
    std::vector<MachineDisk> disks;
    // The display's preferred (native) mode: reported to the guest in the framebuffer's
    // PREF_WIDTH/PREF_HEIGHT registers, and the size of the black picture shown until the guest
    // sets a mode. Guests choose their own mode; like EDID on a PC, this is advice.
    uint32_t displayWidth = 640, displayHeight = 480;
    // Never sleep to follow the wall clock: the same program reaches the same state after the
    // same virtual time (tests, golden frames).
    bool deterministic = false;
};

} // namespace e2kvm::emu

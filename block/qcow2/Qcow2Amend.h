#pragma once
// Qcow2Amend: changes the options of an existing qcow2 image as `qemu-img amend` does
// (compat upgrade / downgrade, refcount width, lazy refcounts, data file name and raw flag,
// virtual size), in QEMU's order and with its refusals. The image must be closed; the caller
// holds QEMU's write locks on it (or has checked nobody else uses it).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace e2kvm::block::qcow2 {

struct Qcow2AmendRequest {
    std::optional<int> version; // 2 (compat=0.10) or 3 (compat=1.1)
    std::optional<uint32_t> refcountBits;
    std::optional<bool> lazyRefcounts;
    std::optional<std::string> dataFile; // "" removes the name
    std::optional<bool> dataFileRaw;
    std::optional<std::string> backingFile;
    std::optional<std::string> backingFormat;
    std::optional<uint64_t> size; // 0: unchanged, as QEMU
};

// Told how far the amendment got: `done` of `total` work units, as QEMU's amend status
// callback counts them (the total may grow, so the fraction may go back).
using Qcow2AmendProgress = std::function<void(uint64_t done, uint64_t total)>;

// Throws BlockError with QEMU's message (no file name in front) when an option cannot be
// changed; what was changed before the refusal stays changed, as with QEMU.
void amendQcow2(const std::string& path, const Qcow2AmendRequest& request,
                const Qcow2AmendProgress& progress = {});

} // namespace e2kvm::block::qcow2

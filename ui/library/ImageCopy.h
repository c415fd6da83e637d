#pragma once
// ImageCopy: copies a disk image's contents into a new image of any format through the block
// layer (used to clone a VM's disks and to make the demo VM's qcow2 from the raw demo disk).
// Holes and all-zero ranges are skipped, so the copy stays sparse (block::copyImage does the
// work on worker threads).
#include <cstdint>
#include <functional>
#include <string>

namespace e2kvm::ui {

// Called with bytes done and total, from a copy worker thread (never two at once); return false
// to cancel (the copy is deleted then).
using CopyProgress = std::function<bool(uint64_t done, uint64_t total)>;

// Creates `destination` (must not exist) with the virtual size of `source`. Throws
// block::BlockError / std::runtime_error with the file names; a failed or cancelled copy leaves
// no destination file behind. `sourceFormat` empty: probed. Give it when it is known (a VM's
// disk): a raw disk whose guest wrote a qcow2 header into its first sector would otherwise be
// read as that qcow2, with whatever host file it names as backing file.
void copyImage(const std::string& source, const std::string& destination,
               const std::string& destinationFormat, const CopyProgress& progress = {},
               const std::string& sourceFormat = {});

} // namespace e2kvm::ui

#pragma once
// Format probing from an image's first bytes: which format our openImage() takes a probed file
// to be, and which format QEMU 7.2 would take it to be (it knows more formats than we open).
// A raw image whose format was probed must stay raw for both, or the next probed open would
// read the disk's first sector as a header (a qcow2 header can name any host file as its
// backing file): RawImage refuses writes that would change that.
#include <cstdint>
#include <span>
#include <string>

namespace e2kvm::block {

// The bytes a probe looks at: the first sector.
inline constexpr size_t kProbeBytes = 512;

// What openImage() opens a file starting with `head` as when no format is given: "qcow2" if
// it starts with the qcow2 magic (a damaged qcow2 then fails to open instead of becoming a raw
// disk), else "raw".
std::string openProbe(std::span<const uint8_t> head);

// The format QEMU 7.2 probes `head` (the first min(file length, 512) bytes) as, without a
// file name: "raw" unless one of the formats it can probe claims the bytes ("qcow2", "qcow",
// "qed", "vdi", "vpc", "vhdx", "vmdk", "bochs", "cloop", "parallels", "luks").
std::string qemuProbe(std::span<const uint8_t> head);

// Both probes say raw.
bool probesAsRaw(std::span<const uint8_t> head);

} // namespace e2kvm::block

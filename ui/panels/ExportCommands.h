#pragma once
// ExportCommands: the exact shell commands a backup tool runs against one of our NBD exports to
// list what changed since a checkpoint (qemu-img map with x-dirty-bitmap, nbdinfo --map), and
// the export name derived from an image file.
#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::ui {

struct ExportEndpoint {
    std::string host = "127.0.0.1"; // TCP, unless unixPath is set
    uint16_t port = 10809;
    std::string unixPath;
    std::string exportName;
    std::string tlsDir; // non-empty: the server requires TLS; client certificates live here
};

// The URI nbdinfo takes (nbds:// with ?tls-certificates= when TLS is on).
std::string nbdinfoUri(const ExportEndpoint& endpoint);
// qemu-img map --output=json --image-opts driver=nbd,...,x-dirty-bitmap=qemu:dirty-bitmap:B
std::string qemuImgMapCommand(const ExportEndpoint& endpoint, const std::string& bitmap);
// nbdinfo --map=qemu:dirty-bitmap:B URI
std::string nbdinfoMapCommand(const ExportEndpoint& endpoint, const std::string& bitmap);
// Both commands for every bitmap, with a comment line each; the block-status map without
// bitmaps when there are none.
std::string changedExtentsCommands(const ExportEndpoint& endpoint,
                                   const std::vector<std::string>& bitmaps);

// A word the shell passes through unchanged (single-quoted when it has to be).
std::string shellQuote(const std::string& word);
// An export name from a file name: its base name with characters other than letters, digits,
// '.', '_' and '-' replaced by '_' ("disk 1.qcow2" → "disk_1.qcow2").
std::string exportNameForFile(const std::string& file);

} // namespace e2kvm::ui

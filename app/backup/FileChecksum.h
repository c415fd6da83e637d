#pragma once
// sha256OfFile: the SHA-256 of a whole file (what `sha256sum` prints), the checksum a backup
// directory keeps for each point's file.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace e2kvm::backup {

// Lower-case hex. `advance` (optional) hears about bytes hashed; `cancel` stops it (throws).
// Throws std::runtime_error naming the file on I/O errors.
std::string sha256OfFile(const std::string& path, const std::function<void(uint64_t)>& advance = {},
                         const std::atomic<bool>* cancel = nullptr);

} // namespace e2kvm::backup

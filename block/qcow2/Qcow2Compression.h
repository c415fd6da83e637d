#pragma once
// Qcow2Compression: the zlib flavour qcow2 uses for compressed clusters (raw deflate,
// window bits -12, no zlib header).
#include <cstdint>
#include <span>
#include <vector>

namespace e2kvm::block::qcow2 {

// Inflates `in` into exactly out.size() bytes. False if the data is not a valid stream that
// fills the output (trailing bytes after the stream are allowed: they are sector padding).
bool inflateCluster(std::span<const uint8_t> in, std::span<uint8_t> out);

// Deflates `in`; returns the compressed bytes, or an empty vector if they would not be
// smaller than `limit` bytes.
std::vector<uint8_t> deflateCluster(std::span<const uint8_t> in, size_t limit);

} // namespace e2kvm::block::qcow2

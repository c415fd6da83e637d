#pragma once
// Qcow2Compression: the two codecs qcow2 uses for compressed clusters. zlib is raw deflate
// (window bits -12, no zlib header); zstd (compression type 1) is plain zstd frames. Neither
// records its length: the data ends where the cluster is full.
#include <cstdint>
#include <span>
#include <vector>

namespace e2kvm::block::qcow2 {

// The header's compression_type byte.
enum class CompressionType : uint8_t { Zlib = 0, Zstd = 1 };

// Decompresses `in` into exactly out.size() bytes. False if the data is not a valid stream
// that fills the output (trailing bytes after the stream are allowed: they are sector padding).
bool inflateCluster(CompressionType type, std::span<const uint8_t> in, std::span<uint8_t> out);

// Compresses `in`; returns the compressed bytes, or an empty vector if they would not be
// smaller than `limit` bytes.
std::vector<uint8_t> deflateCluster(CompressionType type, std::span<const uint8_t> in,
                                    size_t limit);

} // namespace e2kvm::block::qcow2

#include "Qcow2Compression.h"

#include <zlib.h>
#include <zstd.h>

namespace e2kvm::block::qcow2 {
namespace {

bool inflateZlib(std::span<const uint8_t> in, std::span<uint8_t> out) {
    z_stream s{};
    if (inflateInit2(&s, -12) != Z_OK)
        return false;
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(out.size());
    int ret = inflate(&s, Z_FINISH);
    bool ok = (ret == Z_STREAM_END || ret == Z_BUF_ERROR) && s.avail_out == 0;
    inflateEnd(&s);
    return ok;
}

std::vector<uint8_t> deflateZlib(std::span<const uint8_t> in, size_t limit) {
    z_stream s{};
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    std::vector<uint8_t> out(limit);
    s.next_in = const_cast<Bytef*>(in.data());
    s.avail_in = uInt(in.size());
    s.next_out = out.data();
    s.avail_out = uInt(out.size());
    int ret = deflate(&s, Z_FINISH);
    size_t produced = out.size() - s.avail_out;
    deflateEnd(&s);
    if (ret != Z_STREAM_END || produced >= limit)
        return {};
    out.resize(produced);
    return out;
}

// One zstd context of each kind per thread, made on first use and kept: making one per
// cluster would cost more than compressing the cluster.
struct ZstdContexts {
    ZSTD_CCtx* encoder = nullptr;
    ZSTD_DCtx* decoder = nullptr;
    ~ZstdContexts() {
        ZSTD_freeCCtx(encoder);
        ZSTD_freeDCtx(decoder);
    }
};

thread_local ZstdContexts zstdContexts;

ZSTD_CCtx* zstdEncoder() {
    if (!zstdContexts.encoder)
        zstdContexts.encoder = ZSTD_createCCtx();
    return zstdContexts.encoder;
}

ZSTD_DCtx* zstdDecoder() {
    if (!zstdContexts.decoder)
        zstdContexts.decoder = ZSTD_createDCtx();
    return zstdContexts.decoder;
}

// zstd data is one or more frames with no length in front: decompression stops when the
// cluster is full, and what follows (sector padding) is never read. A step that consumes no
// input and produces no output means the data is cut short.
bool inflateZstd(std::span<const uint8_t> in, std::span<uint8_t> out) {
    ZSTD_DCtx* d = zstdDecoder();
    if (!d || ZSTD_isError(ZSTD_DCtx_reset(d, ZSTD_reset_session_only)))
        return false;
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    ZSTD_outBuffer dst{out.data(), out.size(), 0};
    size_t left = 0;
    while (dst.pos < dst.size) {
        const size_t inBefore = src.pos, outBefore = dst.pos;
        left = ZSTD_decompressStream(d, &dst, &src);
        if (ZSTD_isError(left) || (src.pos == inBefore && dst.pos == outBefore))
            return false;
    }
    // A frame that still has data to give would overflow the cluster.
    return left == 0;
}

std::vector<uint8_t> deflateZstd(std::span<const uint8_t> in, size_t limit) {
    std::vector<uint8_t> out(limit);
    ZSTD_CCtx* c = zstdEncoder();
    if (!c)
        return {};
    const size_t n =
        ZSTD_compressCCtx(c, out.data(), limit, in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n) || n >= limit)
        return {};
    out.resize(n);
    return out;
}

} // namespace

bool inflateCluster(CompressionType type, std::span<const uint8_t> in, std::span<uint8_t> out) {
    return type == CompressionType::Zstd ? inflateZstd(in, out) : inflateZlib(in, out);
}

std::vector<uint8_t> deflateCluster(CompressionType type, std::span<const uint8_t> in,
                                    size_t limit) {
    return type == CompressionType::Zstd ? deflateZstd(in, limit) : deflateZlib(in, limit);
}

} // namespace e2kvm::block::qcow2

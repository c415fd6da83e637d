#include "Qcow2Compression.h"

#include <zlib.h>
#include <zstd.h>

namespace e2kvm::block::qcow2 {
namespace {

// Each thread keeps one compressor and one decompressor of each kind, made on first use and
// reset between clusters. Making them per cluster costs more than the cluster's compression:
// a zlib deflater is a quarter MiB that malloc maps and unmaps, and unmapping makes every
// other thread of the process flush its TLB.
class Codecs {
public:
    ~Codecs() {
        if (deflaterReady_)
            deflateEnd(&deflater_);
        if (inflaterReady_)
            inflateEnd(&inflater_);
        ZSTD_freeCCtx(zstdEncoder_);
        ZSTD_freeDCtx(zstdDecoder_);
    }

    z_stream* deflater() {
        if (deflaterReady_)
            return deflateReset(&deflater_) == Z_OK ? &deflater_ : nullptr;
        deflater_ = {};
        if (deflateInit2(&deflater_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return nullptr;
        deflaterReady_ = true;
        return &deflater_;
    }

    z_stream* inflater() {
        if (inflaterReady_)
            return inflateReset(&inflater_) == Z_OK ? &inflater_ : nullptr;
        inflater_ = {};
        if (inflateInit2(&inflater_, -12) != Z_OK)
            return nullptr;
        inflaterReady_ = true;
        return &inflater_;
    }

    ZSTD_CCtx* zstdEncoder() {
        if (!zstdEncoder_)
            zstdEncoder_ = ZSTD_createCCtx();
        return zstdEncoder_;
    }

    ZSTD_DCtx* zstdDecoder() {
        if (!zstdDecoder_)
            zstdDecoder_ = ZSTD_createDCtx();
        else if (ZSTD_isError(ZSTD_DCtx_reset(zstdDecoder_, ZSTD_reset_session_only)))
            return nullptr;
        return zstdDecoder_;
    }

private:
    z_stream deflater_{};
    z_stream inflater_{};
    bool deflaterReady_ = false;
    bool inflaterReady_ = false;
    ZSTD_CCtx* zstdEncoder_ = nullptr;
    ZSTD_DCtx* zstdDecoder_ = nullptr;
};

thread_local Codecs codecs;

bool inflateZlib(std::span<const uint8_t> in, std::span<uint8_t> out) {
    z_stream* s = codecs.inflater();
    if (!s)
        return false;
    s->next_in = const_cast<Bytef*>(in.data());
    s->avail_in = uInt(in.size());
    s->next_out = out.data();
    s->avail_out = uInt(out.size());
    int ret = inflate(s, Z_FINISH);
    return (ret == Z_STREAM_END || ret == Z_BUF_ERROR) && s->avail_out == 0;
}

std::vector<uint8_t> deflateZlib(std::span<const uint8_t> in, size_t limit) {
    z_stream* s = codecs.deflater();
    if (!s)
        return {};
    std::vector<uint8_t> out(limit);
    s->next_in = const_cast<Bytef*>(in.data());
    s->avail_in = uInt(in.size());
    s->next_out = out.data();
    s->avail_out = uInt(out.size());
    int ret = deflate(s, Z_FINISH);
    size_t produced = out.size() - s->avail_out;
    if (ret != Z_STREAM_END || produced >= limit)
        return {};
    out.resize(produced);
    return out;
}

// zstd data is one or more frames with no length in front: decompression stops when the
// cluster is full, and what follows (sector padding) is never read. A step that consumes no
// input and produces no output means the data is cut short.
bool inflateZstd(std::span<const uint8_t> in, std::span<uint8_t> out) {
    ZSTD_DCtx* d = codecs.zstdDecoder();
    if (!d)
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
    ZSTD_CCtx* c = codecs.zstdEncoder();
    if (!c)
        return {};
    std::vector<uint8_t> out(limit);
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

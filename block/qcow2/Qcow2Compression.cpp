#include "Qcow2Compression.h"

#include <zlib.h>

namespace e2kvm::block::qcow2 {

bool inflateCluster(std::span<const uint8_t> in, std::span<uint8_t> out) {
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

std::vector<uint8_t> deflateCluster(std::span<const uint8_t> in, size_t limit) {
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

} // namespace e2kvm::block::qcow2

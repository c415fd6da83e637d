// QMP x-debug-block-dirty-bitmap-sha256: the SHA-256 of a dirty bitmap as QEMU 7.2 computes it
// (iotests 165, 176, 236 compare bitmaps with it): one bit per granule, granule i in byte i / 8
// at bit i % 8, the whole padded to 64-bit words (at least one).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/NodeLookup.h"

#include <algorithm>

#include <cstdint>
#include <memory>
#include <openssl/evp.h>
#include <vector>

namespace e2kvm::qmp {

namespace {

std::vector<uint8_t> packedBits(const block::DirtyBitmap& bitmap) {
    const uint64_t granules = bitmap.granuleCount();
    const uint64_t words = std::max<uint64_t>((granules + 63) / 64, 1);
    std::vector<uint8_t> bits(words * 8, 0);
    const uint64_t size = bitmap.diskSize(), g = bitmap.granularity();
    uint64_t pos = 0;
    while (pos < size) {
        std::optional<uint64_t> dirty = bitmap.nextDirty(pos, size);
        if (!dirty)
            break;
        uint64_t end = bitmap.nextClean(*dirty, size).value_or(size);
        for (uint64_t i = *dirty / g; i * g < end; ++i)
            bits[i / 8] |= uint8_t(1u << (i % 8));
        pos = end;
    }
    return bits;
}

std::string sha256Hex(const std::vector<uint8_t>& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1)
        throw QmpError("SHA-256 is not available from OpenSSL");
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

Json bitmapSha256(QmpContext& ctx, const Json* arguments) {
    QmpArgs a(arguments);
    const std::string nodeName = a.str("node");
    const std::string name = a.str("name");
    a.finish();
    std::shared_ptr<vm::BlockNode> node;
    try {
        node = lookupNode(ctx, nodeName);
    } catch (const QmpError&) {
        throw QmpError("Node '" + nodeName + "' not found"); // QEMU's bitmap lookup wording
    }
    block::BitmapCatalog* catalog = node->image->bitmaps();
    std::optional<block::NamedBitmap> found;
    if (catalog)
        found = catalog->find(name);
    if (!found)
        throw QmpError("Dirty bitmap '" + name + "' not found");
    if (!found->bitmap)
        throw QmpError("Bitmap '" + name + "' is inconsistent and cannot be used");
    return Json::object({{"sha256", sha256Hex(packedBits(*found->bitmap))}});
}

} // namespace

void registerBitmapDigestCommand(QmpContext& ctx) {
    ctx.addCommand({"x-debug-block-dirty-bitmap-sha256", bitmapSha256});
}

} // namespace e2kvm::qmp

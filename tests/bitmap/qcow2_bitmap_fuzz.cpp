// libFuzzer target for the qcow2 bitmap codec and DirtyBitmap's serialized form.
// Input: [0] cluster bits - 9, [1..8] disk size (LE), [9] spare, [10..33] bitmaps extension
// payload, then bytes used as a directory, as a bitmap table and as bitmap data. Anything
// the parsers accept must re-encode to something that parses back to the same values.
#include "block/BlockError.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace e2kvm::block;

namespace {

void require(bool ok) {
    if (!ok)
        std::abort();
}

void fuzzDirectory(std::span<const uint8_t> ext, std::span<const uint8_t> rest,
                   const Qcow2BitmapImageGeometry& geo) {
    try {
        auto parsed = parseQcow2BitmapsExtension(ext, geo, "fuzz");
        auto again = serializeQcow2BitmapsExtension(parsed);
        require(std::equal(again.begin(), again.end(), ext.begin()));
    } catch (const BlockError&) {
    }
    uint32_t count =
        (uint32_t{ext[0]} << 24 | uint32_t{ext[1]} << 16 | uint32_t{ext[2]} << 8 | ext[3]);
    Qcow2BitmapsExtension dirExt{count, rest.size(), 0x10000};
    std::vector<Qcow2BitmapDirEntry> entries;
    try {
        entries = parseQcow2BitmapDirectory(rest, dirExt, geo, "fuzz");
    } catch (const BlockError&) {
        return;
    }
    auto bytes = serializeQcow2BitmapDirectory(entries, "fuzz");
    require(bytes.size() == rest.size());
    Qcow2BitmapsExtension ext2 = makeQcow2BitmapsExtension(entries, 0x10000);
    require(ext2 == dirExt);
    auto entries2 = parseQcow2BitmapDirectory(bytes, ext2, geo, "fuzz");
    require(entries2 == entries);
    require(serializeQcow2BitmapDirectory(entries2, "fuzz") == bytes);
}

void fuzzTable(std::span<const uint8_t> rest, const Qcow2BitmapImageGeometry& geo) {
    auto table = rest.first(rest.size() / 8 * 8);
    try {
        auto entries = parseQcow2BitmapTable(table, geo, "fuzz", "b");
        auto bytes = serializeQcow2BitmapTable(entries);
        require(std::equal(bytes.begin(), bytes.end(), table.begin(), table.end()));
    } catch (const BlockError&) {
    }
}

void fuzzBitmapData(std::span<const uint8_t> rest, uint8_t spare) {
    if (rest.empty())
        return;
    uint64_t gran = uint64_t{512} << (spare % 23);
    uint64_t granules = rest.size() * 8 - (spare >> 5); // 0..7 bits of tail padding
    uint64_t size = granules * gran - (spare & 31);
    DirtyBitmap b(size, gran);
    require(b.serializedSize() == rest.size());
    b.deserialize(0, rest);
    std::vector<uint8_t> out(rest.size());
    b.serialize(0, out);
    uint64_t bits = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        uint8_t mask = 0xff;
        if (i + 1 == out.size() && granules % 8)
            mask = static_cast<uint8_t>((1u << (granules % 8)) - 1);
        require(out[i] == (rest[i] & mask));
        bits += static_cast<uint64_t>(std::popcount(out[i]));
    }
    require(b.dirtyGranules() == bits);
    uint64_t dirty = 0;
    DirtyExtentWalker walker(b, 0, size);
    while (auto e = walker.next())
        dirty += e->dirty ? e->length : 0;
    require(dirty == b.dirtyBytes());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 34)
        return 0;
    Qcow2BitmapImageGeometry geo;
    geo.clusterSize = 1u << (9 + data[0] % 13);
    geo.diskSize = 0;
    for (int i = 8; i >= 1; --i)
        geo.diskSize = geo.diskSize << 8 | data[i];
    geo.fileSize = 0;
    std::span<const uint8_t> ext(data + 10, 24);
    std::span<const uint8_t> rest(data + 34, size - 34);
    fuzzDirectory(ext, rest, geo);
    fuzzTable(rest, geo);
    fuzzBitmapData(rest, data[9]);
    return 0;
}

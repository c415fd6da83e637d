#include "block/BlockError.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

using namespace e2kvm::block;

namespace {

constexpr uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

const Qcow2BitmapImageGeometry kGeometry{65536, 10 * GiB, 0};

// The message of the BlockError(EINVAL) `f` throws, or "" if it throws nothing.
std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EINVAL) << e.what();
        return e.what();
    }
    return "";
}

Qcow2BitmapDirEntry entry(std::string name, uint64_t tableOffset = 0x50000, uint32_t tableSize = 1,
                          uint8_t bits = 16, uint32_t flags = kQcow2BitmapFlagAuto) {
    Qcow2BitmapDirEntry e;
    e.name = std::move(name);
    e.tableOffset = tableOffset;
    e.tableSize = tableSize;
    e.granularityBits = bits;
    e.flags = flags;
    return e;
}

std::vector<uint8_t> be64(uint64_t v) {
    std::vector<uint8_t> out(8);
    for (int i = 7; i >= 0; --i, v >>= 8)
        out[i] = static_cast<uint8_t>(v);
    return out;
}

// Parses `dir` as a directory of `count` bitmaps on kGeometry.
std::vector<Qcow2BitmapDirEntry> parseDir(const std::vector<uint8_t>& dir, uint32_t count,
                                          const Qcow2BitmapImageGeometry& g = kGeometry) {
    Qcow2BitmapsExtension ext{count, dir.size(), 0x40000};
    return parseQcow2BitmapDirectory(dir, ext, g, "t.qcow2");
}

} // namespace

TEST(Qcow2BitmapSizes, TableAndDataSizes) {
    EXPECT_EQ(qcow2BitmapDataSize(TiB, 16), 2 * MiB);
    EXPECT_EQ(qcow2BitmapTableSize(TiB, 16, 65536), 32u);
    EXPECT_EQ(qcow2BitmapDataSize(4 * MiB, 9), 1024u);
    EXPECT_EQ(qcow2BitmapTableSize(4 * MiB, 9, 4096), 1u);
    EXPECT_EQ(qcow2BitmapDataSize(1, 31), 1u);
    EXPECT_EQ(qcow2BitmapDataSize(0, 16), 0u);
    EXPECT_EQ(qcow2BitmapDataSize(9 * 65536 + 1, 16), 2u);
    EXPECT_EQ(qcow2BitmapTableSize(uint64_t{1} << 63, 31, 2 << 20), 256u);
    EXPECT_EQ(qcow2BitmapDirEntrySize(1), 32u);
    EXPECT_EQ(qcow2BitmapDirEntrySize(8), 32u);
    EXPECT_EQ(qcow2BitmapDirEntrySize(9), 40u);
    EXPECT_EQ(qcow2BitmapDirEntrySize(1023), 1048u);
}

// One entry laid out by hand from the format description.
TEST(Qcow2BitmapDirectory, SerializesExactLayout) {
    std::vector<Qcow2BitmapDirEntry> entries{entry("b", 0x30000, 1, 16, 2),
                                             entry("bitmap-9", 0x1230000, 2, 9, 3)};
    auto bytes = serializeQcow2BitmapDirectory(entries, "t.qcow2");
    std::vector<uint8_t> expected{0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  3,
                                  0,
                                  0,
                                  /* table offset */ 0,
                                  0,
                                  0,
                                  1, /* size */
                                  0,
                                  0,
                                  0,
                                  2,
                                  /* flags */ 1,
                                  16,
                                  0,
                                  1,
                                  /* type, bits, name size */ 0,
                                  0,
                                  0,
                                  0,
                                  'b',
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0, // padding to 32
                                  0,
                                  0,
                                  0,
                                  0,
                                  1,
                                  0x23,
                                  0,
                                  0,
                                  0,
                                  0,
                                  0,
                                  2,
                                  0,
                                  0,
                                  0,
                                  3,
                                  1,
                                  9,
                                  0,
                                  8,
                                  0,
                                  0,
                                  0,
                                  0,
                                  'b',
                                  'i',
                                  't',
                                  'm',
                                  'a',
                                  'p',
                                  '-',
                                  '9'};
    EXPECT_EQ(bytes, expected);
    auto ext = makeQcow2BitmapsExtension(entries, 0x20000);
    EXPECT_EQ(ext, (Qcow2BitmapsExtension{2, 64, 0x20000}));
    auto extBytes = serializeQcow2BitmapsExtension(ext);
    std::vector<uint8_t> expectedExt{0, 0, 0, 2,  0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 64, 0, 0, 0, 0, 0, 2, 0, 0};
    EXPECT_TRUE(std::equal(extBytes.begin(), extBytes.end(), expectedExt.begin()));
    EXPECT_EQ(parseQcow2BitmapsExtension(extBytes, kGeometry, "t.qcow2"), ext);
    EXPECT_EQ(parseDir(bytes, 2), entries);
}

TEST(Qcow2BitmapDirectory, RoundTripsManyNames) {
    std::vector<Qcow2BitmapDirEntry> entries;
    const size_t lengths[] = {1, 2, 7, 8, 9, 15, 16, 17, 100, 1023};
    uint64_t off = 0x100000;
    for (size_t n : lengths) {
        std::string name(n, 'a');
        name[0] = static_cast<char>('0' + n % 10);
        name.back() = '\xff'; // names are bytes, not necessarily text
        entries.push_back(entry(name, off, 1, static_cast<uint8_t>(9 + n % 23), n % 4 & 3));
        off += 0x10000;
    }
    auto bytes = serializeQcow2BitmapDirectory(entries, "t");
    uint64_t expectedSize = 0;
    for (auto& e : entries)
        expectedSize += qcow2BitmapDirEntrySize(e.name.size());
    EXPECT_EQ(bytes.size(), expectedSize);
    Qcow2BitmapImageGeometry g{65536, 1 * MiB, 0};
    EXPECT_EQ(parseDir(bytes, static_cast<uint32_t>(entries.size()), g), entries);
    EXPECT_EQ(serializeQcow2BitmapDirectory(parseDir(bytes, 10, g), "t"), bytes);
    EXPECT_TRUE(serializeQcow2BitmapDirectory({}, "t").empty());
}

TEST(Qcow2BitmapsExtension, RejectsMalformedFields) {
    auto good = serializeQcow2BitmapsExtension({1, 32, 0x30000});
    auto parse = [&](std::vector<uint8_t> b, Qcow2BitmapImageGeometry g = kGeometry) {
        return errorOf([&] { parseQcow2BitmapsExtension(b, g, "t.qcow2"); });
    };
    std::vector<uint8_t> base(good.begin(), good.end());
    EXPECT_EQ(parse(base), "");
    EXPECT_NE(parse(std::vector<uint8_t>(base.begin(), base.end() - 1)).find("length 23"),
              std::string::npos);
    auto longer = base;
    longer.push_back(0);
    EXPECT_NE(parse(longer), "");
    auto b = base;
    b[7] = 1; // reserved
    EXPECT_NE(parse(b).find("reserved"), std::string::npos);
    b = base;
    b[3] = 0; // zero bitmaps
    EXPECT_NE(parse(b).find("zero bitmaps"), std::string::npos);
    auto tooMany = serializeQcow2BitmapsExtension({65536, 65536 * 32, 0x30000});
    EXPECT_NE(parse({tooMany.begin(), tooMany.end()}).find("65536 bitmaps"), std::string::npos);
    auto maxOk = serializeQcow2BitmapsExtension({65535, 65535 * 32, 0x30000});
    EXPECT_EQ(parse({maxOk.begin(), maxOk.end()}), "");
    for (uint64_t off : {uint64_t{0}, uint64_t{0x30200}, uint64_t{0x38000}}) {
        auto m = serializeQcow2BitmapsExtension({1, 32, off});
        EXPECT_NE(parse({m.begin(), m.end()}).find("directory offset"), std::string::npos);
    }
    auto m = serializeQcow2BitmapsExtension({1, 0, 0x30000});
    EXPECT_NE(parse({m.begin(), m.end()}).find("size is zero"), std::string::npos);
    m = serializeQcow2BitmapsExtension({1, 1024 * 65535 + 8, 0x30000});
    EXPECT_NE(parse({m.begin(), m.end()}).find("exceeds"), std::string::npos);
    m = serializeQcow2BitmapsExtension({2, 40, 0x30000});
    EXPECT_NE(parse({m.begin(), m.end()}).find("cannot hold"), std::string::npos);
    m = serializeQcow2BitmapsExtension({1, 32, 0x30000});
    EXPECT_NE(parse({m.begin(), m.end()}, {65536, GiB, 0x30010}).find("past end of file"),
              std::string::npos);
    EXPECT_EQ(parse({m.begin(), m.end()}, {65536, GiB, 0x30020}), "");
    EXPECT_NE(parse(base, {1000, GiB, 0}).find("cluster size"), std::string::npos);
    EXPECT_NE(parse(base, {4u << 20, GiB, 0}).find("cluster size"), std::string::npos);
}

TEST(Qcow2BitmapDirectory, RejectsMalformedEntriesNamingTheBitmap) {
    // 10 GiB disk at 64 KiB needs 20 KiB of bitmap data: one 64 KiB cluster.
    auto bad = [&](Qcow2BitmapDirEntry e, const std::string& what,
                   Qcow2BitmapImageGeometry g = kGeometry) {
        std::vector<uint8_t> bytes = serializeQcow2BitmapDirectory({&e, 1}, "t");
        std::string msg = errorOf([&] { parseDir(bytes, 1, g); });
        EXPECT_NE(msg.find(what), std::string::npos) << "got: " << msg;
        EXPECT_NE(msg.find("'" + e.name + "'"), std::string::npos) << "got: " << msg;
        EXPECT_NE(msg.find("t.qcow2"), std::string::npos) << "got: " << msg;
    };
    EXPECT_EQ(errorOf([&] {
                  auto e = entry("ok");
                  parseDir(serializeQcow2BitmapDirectory({&e, 1}, "t"), 1);
              }),
              "");
    bad(entry("t0", 0), "table offset");
    bad(entry("misaligned", 0x50200), "table offset");
    bad(entry("empty", 0x50000, 0), "table size is zero");
    bad(entry("huge", 0x50000, kQcow2MaxBitmapTableSize + 1), "exceeds the supported");
    bad(entry("over512M", 0x50000, 8193), "more than 512 MiB");
    bad(entry("small", 0x50000, 1, 9), "entries, a disk of 10737418240 bytes at granularity 512 "
                                       "needs 40");                    // 2.5 MiB of data
    bad(entry("large", 0x50000, 2, 16), "bitmap table has 2 entries"); // 20 KiB of data
    bad(entry("pastEof", 0x50000, 1), "past end of file", {65536, GiB, 0x50004});
    // A stale (in_use) bitmap may have a table too small for the disk.
    {
        auto e = entry("stale", 0x50000, 1, 9, kQcow2BitmapFlagInUse);
        auto bytes = serializeQcow2BitmapDirectory({&e, 1}, "t");
        EXPECT_EQ(errorOf([&] { parseDir(bytes, 1); }), "");
    }
    // Fields the serializer refuses are patched into valid bytes.
    auto patched = [&](const std::string& name, size_t at, std::vector<uint8_t> value,
                       const std::string& what) {
        auto e = entry(name);
        auto bytes = serializeQcow2BitmapDirectory({&e, 1}, "t");
        std::copy(value.begin(), value.end(), bytes.begin() + at);
        std::string msg = errorOf([&] { parseDir(bytes, 1); });
        EXPECT_NE(msg.find(what), std::string::npos) << name << " got: " << msg;
        EXPECT_NE(msg.find(name.substr(0, 4)), std::string::npos) << name << " got: " << msg;
    };
    // QEMU's words for the entry fields its check refuses (iotest 242).
    const std::string refused = "doesn't satisfy the constraints";
    patched("flag2", 12, {0, 0, 0, 4}, "Bitmap 'flag2' " + refused);
    patched("flag31", 12, {0x80, 0, 0, 2}, "Bitmap 'flag31' " + refused);
    patched("type0", 16, {0}, refused);
    patched("type2", 16, {2}, refused);
    patched("gran8", 17, {8}, refused);
    patched("gran32", 17, {32}, refused);
    patched("gran63", 17, {63}, refused);
    // Extra data (the name then starts later; keep the entry inside the directory).
    {
        auto e = entry("extra-data");
        auto bytes = serializeQcow2BitmapDirectory({&e, 1}, "t");
        bytes[23] = 8;
        bytes.resize(bytes.size() + 8, 0);
        std::string msg = errorOf([&] { parseDir(bytes, 1); });
        EXPECT_NE(msg.find("extra data"), std::string::npos) << msg;
    }
    // Name size 0 and 1024.
    {
        auto e = entry("n");
        auto bytes = serializeQcow2BitmapDirectory({&e, 1}, "t");
        bytes[19] = 0;
        EXPECT_NE(errorOf([&] { parseDir(bytes, 1); }).find("no name"), std::string::npos);
        std::vector<uint8_t> big(qcow2BitmapDirEntrySize(1024), 'x');
        std::copy(bytes.begin(), bytes.begin() + 24, big.begin());
        big[18] = 4;
        big[19] = 0;
        EXPECT_NE(errorOf([&] { parseDir(big, 1); }).find("longer than 1023"), std::string::npos);
    }
    // Names must be unique.
    {
        auto a = entry("same"), b = entry("same", 0x60000);
        auto one = serializeQcow2BitmapDirectory({&a, 1}, "t");
        std::vector<uint8_t> two = one;
        two.insert(two.end(), one.begin(), one.end());
        EXPECT_NE(errorOf([&] { parseDir(two, 2); }).find("'same': name appears twice"),
                  std::string::npos);
        std::vector<Qcow2BitmapDirEntry> dup{a, b};
        EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory(dup, "t"); }).find("twice"),
                  std::string::npos);
    }
}

TEST(Qcow2BitmapDirectory, RejectsBrokenStructure) {
    std::vector<Qcow2BitmapDirEntry> two{entry("a"), entry("bb", 0x60000)};
    auto bytes = serializeQcow2BitmapDirectory(two, "t");
    EXPECT_EQ(errorOf([&] { parseDir(bytes, 2); }), "");
    EXPECT_NE(errorOf([&] { parseDir(bytes, 1); }).find("more bitmaps"), std::string::npos);
    EXPECT_NE(errorOf([&] { parseDir(bytes, 3); }).find("holds 2 bitmaps"), std::string::npos);
    // Size mismatch with the extension.
    Qcow2BitmapsExtension ext{2, bytes.size() + 8, 0x40000};
    EXPECT_NE(errorOf([&] { parseQcow2BitmapDirectory(bytes, ext, kGeometry, "t"); }), "");
    // Truncated header and truncated name.
    for (size_t cut : {size_t{8}, size_t{40}, size_t{33}, bytes.size() - 1}) {
        std::vector<uint8_t> t(bytes.begin(), bytes.begin() + cut);
        EXPECT_NE(errorOf([&] { parseDir(t, 2); }).find("broken bitmap directory"),
                  std::string::npos)
            << cut;
    }
    // A name size that runs past the end.
    auto longName = bytes;
    longName[18] = 0xff;
    EXPECT_NE(errorOf([&] { parseDir(longName, 2); }).find("runs past"), std::string::npos);
    // Serializing refuses what QEMU would refuse to load.
    auto bad = entry("x");
    bad.flags = 4;
    EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory({&bad, 1}, "t"); }), "");
    bad = entry("");
    EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory({&bad, 1}, "t"); }), "");
    bad = entry(std::string(1024, 'n'));
    EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory({&bad, 1}, "t"); }), "");
    bad = entry("g", 0x50000, 1, 32);
    EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory({&bad, 1}, "t"); }), "");
    bad = entry("t");
    bad.type = 2;
    EXPECT_NE(errorOf([&] { serializeQcow2BitmapDirectory({&bad, 1}, "t"); }), "");
}

TEST(Qcow2BitmapDirectory, ValidatesNewBitmaps) {
    auto check = [](const std::string& name, unsigned bits, uint64_t disk) {
        return errorOf([&] { validateNewQcow2Bitmap(name, bits, {65536, disk, 0}, "t"); });
    };
    EXPECT_EQ(check("b", 16, TiB), "");
    EXPECT_EQ(check("b", 9, 2 * TiB), "");       // exactly 512 MiB of data
    EXPECT_NE(check("b", 9, 2 * TiB + 512), ""); // one bit more
    EXPECT_EQ(check("b", 16, 256 * TiB), "");    // 64 KiB covers 256 TiB
    EXPECT_NE(check("b", 16, 256 * TiB + 1).find("larger granularity"), std::string::npos);
    EXPECT_NE(check("b", 8, GiB).find("granularity_bits 8"), std::string::npos);
    EXPECT_NE(check("b", 32, GiB), "");
    EXPECT_NE(check("", 16, GiB), "");
    EXPECT_NE(check(std::string(1024, 'x'), 16, GiB), "");
    EXPECT_EQ(check(std::string(1023, 'x'), 16, GiB), "");
}

TEST(Qcow2BitmapTable, ParsesAndRejectsEntries) {
    Qcow2BitmapImageGeometry g{65536, GiB, 0x200000};
    std::vector<Qcow2BitmapTableEntry> entries{
        {0, false}, {0, true}, {0x70000, false}, {0x1f0000, false}};
    auto bytes = serializeQcow2BitmapTable(entries);
    EXPECT_EQ(bytes.size(), 32u);
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 8, bytes.begin() + 16), be64(1));
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin() + 16, bytes.begin() + 24), be64(0x70000));
    EXPECT_EQ(parseQcow2BitmapTable(bytes, g, "t", "b"), entries);

    auto one = [&](uint64_t raw, Qcow2BitmapImageGeometry geo) {
        return errorOf([&] { parseQcow2BitmapTable(be64(raw), geo, "t.qcow2", "bm"); });
    };
    EXPECT_EQ(one(0x10000, g), "");
    for (uint64_t reserved : {uint64_t{2}, uint64_t{0x100}, uint64_t{1} << 56, uint64_t{1} << 63})
        EXPECT_NE(one(0x10000 | reserved, g).find("reserved bits"), std::string::npos);
    EXPECT_NE(one(0x10001, g).find("all-ones"), std::string::npos);
    EXPECT_NE(one(0x10200, g).find("not cluster aligned"), std::string::npos);
    EXPECT_EQ(one(0x10200, {512, GiB, 0}), "");
    EXPECT_NE(one(0x200000, g).find("past end of file"), std::string::npos);
    EXPECT_EQ(one(0x200000, {65536, GiB, 0}), "");
    std::string msg = one(2, g);
    EXPECT_NE(msg.find("t.qcow2: bitmap 'bm': bitmap table entry 0"), std::string::npos) << msg;
    EXPECT_NE(errorOf([&] { parseQcow2BitmapTable(std::vector<uint8_t>(12), g, "t", "b"); }), "");
    EXPECT_THROW(serializeQcow2BitmapTable(std::vector<Qcow2BitmapTableEntry>{{0x10000, true}}),
                 BlockError);
    EXPECT_THROW(serializeQcow2BitmapTable(std::vector<Qcow2BitmapTableEntry>{{0x10100, false}}),
                 BlockError);
}

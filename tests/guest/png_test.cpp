// PNG encoder/decoder: round trips, every filter path, and hostile inputs (clear errors only).
#include "emu/display/Png.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>

using namespace e2kvm::emu;

namespace {

RgbImage noiseImage(int w, int h, int channels, uint32_t seed, bool smooth) {
    RgbImage img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.data.resize(size_t(w) * size_t(h) * size_t(channels));
    std::mt19937 rng(seed);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c) {
                size_t i = (size_t(y) * size_t(w) + size_t(x)) * size_t(channels) + size_t(c);
                // Smooth gradients make the encoder pick Sub/Up/Average/Paeth; noise picks None.
                img.data[i] = smooth ? uint8_t(x * (c + 1) + y * 3 + (rng() % 3)) : uint8_t(rng());
            }
    return img;
}

void putBe32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
    v[at] = uint8_t(x >> 24);
    v[at + 1] = uint8_t(x >> 16);
    v[at + 2] = uint8_t(x >> 8);
    v[at + 3] = uint8_t(x);
}

// Recomputes the CRC of the chunk starting at `at` (after editing it).
void fixCrc(std::vector<uint8_t>& v, size_t at) {
    uint32_t len =
        uint32_t(v[at]) << 24 | uint32_t(v[at + 1]) << 16 | uint32_t(v[at + 2]) << 8 | v[at + 3];
    uLong crc = crc32(0, v.data() + at + 4, uInt(len + 4));
    putBe32(v, at + 8 + len, uint32_t(crc));
}

std::string decodeError(const std::vector<uint8_t>& bytes) {
    try {
        decodePng(bytes, "t.png");
    } catch (const PngError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST(Png, RoundTripRgbAndRgba) {
    for (int channels : {3, 4})
        for (bool smooth : {false, true})
            for (auto [w, h] : {std::pair{1, 1}, std::pair{7, 3}, std::pair{64, 40}}) {
                RgbImage in = noiseImage(w, h, channels, uint32_t(w * 31 + h), smooth);
                std::vector<uint8_t> png = encodePng(in);
                RgbImage out = decodePng(png);
                EXPECT_EQ(out.width, w);
                EXPECT_EQ(out.height, h);
                EXPECT_EQ(out.channels, channels);
                EXPECT_EQ(out.data, in.data) << w << "x" << h << " ch " << channels;
            }
}

TEST(Png, EveryCompressionLevelDecodes) {
    RgbImage in = noiseImage(33, 17, 3, 5, true);
    for (int level = 0; level <= 9; ++level)
        EXPECT_EQ(decodePng(encodePng(in, level)).data, in.data) << "level " << level;
}

TEST(Png, FrameRoundTripDropsNothing) {
    FrameImage f;
    f.width = 5;
    f.height = 4;
    for (int i = 0; i < 20; ++i)
        f.pixels.push_back(uint32_t(i) * 0x0a0b0cu + 0x102030u * uint32_t(i % 3));
    for (auto& p : f.pixels)
        p &= 0xffffffu;
    FrameImage g = decodePngToFrame(encodePng(f));
    EXPECT_EQ(g.width, 5);
    EXPECT_EQ(g.height, 4);
    EXPECT_EQ(g.pixels, f.pixels);
}

TEST(Png, PpmHeaderAndBody) {
    FrameImage f;
    f.width = 2;
    f.height = 1;
    f.pixels = {0x112233, 0xa0b0c0};
    std::vector<uint8_t> ppm = encodePpm(f);
    std::string header = "P6\n2 1\n255\n";
    ASSERT_EQ(ppm.size(), header.size() + 6);
    EXPECT_EQ(std::string(ppm.begin(), ppm.begin() + long(header.size())), header);
    EXPECT_EQ(ppm[header.size()], 0x11);
    EXPECT_EQ(ppm[header.size() + 5], 0xc0);
}

TEST(Png, EncoderRejectsBadInput) {
    RgbImage img;
    img.width = 2;
    img.height = 2;
    img.data.resize(5);
    EXPECT_THROW(encodePng(img), PngError);
    img.channels = 2;
    EXPECT_THROW(encodePng(img), PngError);
}

TEST(Png, HostileInputsGiveClearErrors) {
    RgbImage in = noiseImage(16, 16, 3, 9, true);
    const std::vector<uint8_t> good = encodePng(in);

    EXPECT_NE(decodeError({}).find("signature"), std::string::npos);
    // Every truncation is an error, never a crash.
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + long(n));
        EXPECT_FALSE(decodeError(cut).empty()) << "truncated to " << n;
    }
    // Every single bit flip is caught (signature, CRC or a checked field).
    for (size_t i = 0; i < good.size(); i += 3) {
        std::vector<uint8_t> bad = good;
        bad[i] ^= 0x10;
        EXPECT_FALSE(decodeError(bad).empty()) << "byte " << i;
    }
    // Huge dimensions are refused before any allocation.
    std::vector<uint8_t> huge = good;
    putBe32(huge, 16, 0x7fffffff);
    putBe32(huge, 20, 0x7fffffff);
    fixCrc(huge, 8);
    EXPECT_NE(decodeError(huge).find("size"), std::string::npos);
    // Declared smaller than its data: the extra data is an error, not an overflow.
    std::vector<uint8_t> small = good;
    putBe32(small, 20, 4);
    fixCrc(small, 8);
    EXPECT_NE(decodeError(small).find("larger"), std::string::npos);
    // Declared bigger than its data.
    std::vector<uint8_t> big = good;
    putBe32(big, 20, 64);
    fixCrc(big, 8);
    EXPECT_NE(decodeError(big).find("expected"), std::string::npos) << decodeError(big);
    // Interlace, other depths and colour types are refused by name.
    std::vector<uint8_t> inter = good;
    inter[8 + 8 + 12] = 1;
    fixCrc(inter, 8);
    EXPECT_NE(decodeError(inter).find("interlaced"), std::string::npos);
    std::vector<uint8_t> grey = good;
    grey[8 + 8 + 9] = 0;
    fixCrc(grey, 8);
    EXPECT_NE(decodeError(grey).find("colour type"), std::string::npos);
    // A chunk length running past the end.
    std::vector<uint8_t> longChunk = good;
    putBe32(longChunk, 33, 0x7ffffff0);
    EXPECT_NE(decodeError(longChunk).find("past the end"), std::string::npos);
}

TEST(Png, BadFilterTypeIsNamed) {
    // Hand-built stream: 1x1 RGB with filter byte 9.
    std::vector<uint8_t> raw = {9, 1, 2, 3};
    std::vector<uint8_t> z(64);
    uLongf zlen = uLongf(z.size());
    ASSERT_EQ(compress(z.data(), &zlen, raw.data(), uLong(raw.size())), Z_OK);
    RgbImage one;
    one.width = one.height = 1;
    one.data = {1, 2, 3};
    std::vector<uint8_t> png = encodePng(one, 0);
    // Replace the IDAT payload (chunk at offset 33) with our stream.
    uint32_t oldLen =
        uint32_t(png[33]) << 24 | uint32_t(png[34]) << 16 | uint32_t(png[35]) << 8 | png[36];
    std::vector<uint8_t> out(png.begin(), png.begin() + 33);
    std::vector<uint8_t> chunk(12 + zlen);
    putBe32(chunk, 0, uint32_t(zlen));
    std::memcpy(chunk.data() + 4, "IDAT", 4);
    std::memcpy(chunk.data() + 8, z.data(), zlen);
    out.insert(out.end(), chunk.begin(), chunk.end());
    fixCrc(out, 33);
    out.insert(out.end(), png.begin() + 33 + 12 + oldLen, png.end());
    EXPECT_NE(decodeError(out).find("filter type 9"), std::string::npos) << decodeError(out);
}

#pragma once
// Png: a small encoder and decoder for 8-bit RGB / RGBA non-interlaced PNG images (zlib), plus a
// binary PPM (P6) writer. Used by screendump, golden-frame tests and the GUI.
#include "emu/display/Frame.h"

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace e2kvm::emu {

// A decoding or file error, with context ("golden.png: IDAT chunk CRC mismatch").
class PngError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Packed 8-bit samples: `channels` is 3 (RGB) or 4 (RGBA); rows are width * channels bytes.
struct RgbImage {
    int width = 0, height = 0;
    int channels = 3;
    std::vector<uint8_t> data;
};

// Decoder limits: bigger images are refused before anything is allocated.
inline constexpr int kPngMaxDimension = 16384;
inline constexpr uint64_t kPngMaxPixels = 16ull << 20;

// Encoding. `level` is a zlib level (0..9); every row gets the filter with the smallest sum of
// absolute differences. FrameImage pixels (0x00RRGGBB) become RGB.
std::vector<uint8_t> encodePng(const RgbImage& image, int level = 6);
std::vector<uint8_t> encodePng(const FrameImage& frame, int level = 6);

// Decoding. `what` names the source in error messages. Accepts colour types 2 (RGB) and
// 6 (RGBA) at bit depth 8, no interlace; checks every CRC and the zlib stream.
RgbImage decodePng(std::span<const uint8_t> bytes, const std::string& what = "PNG");
// Decoded to 0x00RRGGBB pixels (alpha dropped).
FrameImage decodePngToFrame(std::span<const uint8_t> bytes, const std::string& what = "PNG");

// Binary PPM (P6, maxval 255) of a frame.
std::vector<uint8_t> encodePpm(const FrameImage& frame);

RgbImage frameToRgb(const FrameImage& frame);

// File helpers; throw PngError with the path on I/O errors.
void writePngFile(const std::string& path, const FrameImage& frame);
void writePpmFile(const std::string& path, const FrameImage& frame);
FrameImage readPngFile(const std::string& path);

} // namespace e2kvm::emu

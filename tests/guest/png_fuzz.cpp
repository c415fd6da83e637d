// libFuzzer target: decodePng on arbitrary bytes must either decode or throw PngError, within
// the documented size limits, and a decoded image must survive an encode/decode round trip.
#include "emu/display/Png.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace e2kvm::emu;
    RgbImage img;
    try {
        img = decodePng(std::span<const uint8_t>(data, size), "fuzz.png");
    } catch (const PngError&) {
        return 0;
    }
    if (img.width <= 0 || img.height <= 0 ||
        uint64_t(img.width) * uint64_t(img.height) > kPngMaxPixels ||
        img.data.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels))
        std::abort();
    RgbImage again = decodePng(encodePng(img, 1));
    if (again.data != img.data || again.channels != img.channels)
        std::abort();
    return 0;
}

// png_sample: writes test pictures for png_check.py: pattern.png + pattern.ppm (the same RGB
// picture through our PNG encoder and our PPM writer) and rgba.png + rgba.raw (RGBA samples).
#include "emu/display/Png.h"

#include <cstdio>
#include <fstream>
#include <iostream>

using namespace e2kvm::emu;

namespace {

void save(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out)
        throw PngError(path + ": write failed");
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: png_sample OUTPUT_DIR\n";
        return 2;
    }
    const std::string dir = argv[1];
    try {
        // Gradients, hard edges and noise, so every filter type gets chosen somewhere.
        FrameImage f;
        f.width = 301;
        f.height = 97;
        uint32_t seed = 12345;
        for (int y = 0; y < f.height; ++y)
            for (int x = 0; x < f.width; ++x) {
                seed = seed * 1103515245u + 12345u;
                uint32_t p;
                if (y < 30)
                    p = uint32_t(x & 0xff) << 16 | uint32_t(y * 8) << 8 | uint32_t((x + y) & 0xff);
                else if (y < 60)
                    p = ((x / 16 + y / 8) % 2) ? 0xffd040u : 0x102030u;
                else
                    p = (seed >> 8) & 0xffffffu;
                f.pixels.push_back(p);
            }
        writePngFile(dir + "/pattern.png", f);
        writePpmFile(dir + "/pattern.ppm", f);

        RgbImage rgba;
        rgba.width = 64;
        rgba.height = 33;
        rgba.channels = 4;
        for (int i = 0; i < rgba.width * rgba.height * 4; ++i)
            rgba.data.push_back(uint8_t(i * 7 + (i / 256) * 13));
        save(dir + "/rgba.png", encodePng(rgba, 9));
        save(dir + "/rgba.raw", rgba.data);
    } catch (const std::exception& e) {
        std::cerr << "png_sample: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

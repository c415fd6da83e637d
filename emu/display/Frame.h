#pragma once
// Frame: one picture of a guest display (XRGB8888, tightly packed rows) and the rectangle type
// used for dirty regions. Shared between the machine and every display front end.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace e2kvm::emu {

struct Rect {
    int x = 0, y = 0, w = 0, h = 0;
    bool empty() const { return w <= 0 || h <= 0; }
    // Smallest rectangle holding both (an empty operand is ignored).
    Rect united(const Rect& o) const {
        if (o.empty())
            return *this;
        if (empty())
            return o;
        int x0 = std::min(x, o.x), y0 = std::min(y, o.y);
        int x1 = std::max(x + w, o.x + o.w), y1 = std::max(y + h, o.y + o.h);
        return {x0, y0, x1 - x0, y1 - y0};
    }
    Rect clipped(int width, int height) const {
        int x0 = std::clamp(x, 0, width), y0 = std::clamp(y, 0, height);
        int x1 = std::clamp(x + w, 0, width), y1 = std::clamp(y + h, 0, height);
        return {x0, y0, x1 - x0, y1 - y0};
    }
    bool operator==(const Rect&) const = default;
};

struct FrameImage {
    int width = 0, height = 0;
    std::vector<uint32_t> pixels; // width * height, row-major, 0x00RRGGBB
    uint64_t sequence = 0;        // number of the publish that produced this content
    uint32_t pixel(int px, int py) const { return pixels[size_t(py) * size_t(width) + size_t(px)]; }
};

} // namespace e2kvm::emu

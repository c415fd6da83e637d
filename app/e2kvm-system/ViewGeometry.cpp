#include "app/e2kvm-system/ViewGeometry.h"

#include <algorithm>
#include <cmath>

namespace e2kvm::sys {

ViewRect fitFrame(int frameW, int frameH, int outW, int outH, bool integerScale) {
    if (frameW <= 0 || frameH <= 0 || outW <= 0 || outH <= 0)
        return {};
    int w, h;
    int factor = std::min(outW / frameW, outH / frameH);
    if (integerScale && factor >= 1) {
        w = frameW * factor;
        h = frameH * factor;
    } else if (int64_t(outW) * frameH <= int64_t(outH) * frameW) {
        // The output is relatively narrower: full width, letterbox above and below.
        w = outW;
        h = int(std::max<int64_t>(1, int64_t(outW) * frameH / frameW));
    } else {
        h = outH;
        w = int(std::max<int64_t>(1, int64_t(outH) * frameW / frameH));
    }
    return {(outW - w) / 2, (outH - h) / 2, w, h};
}

GuestPointer outputToGuest(const ViewRect& view, double px, double py) {
    GuestPointer p;
    if (view.w <= 0 || view.h <= 0)
        return p;
    double fx = (px - view.x) / view.w, fy = (py - view.y) / view.h;
    p.inside = fx >= 0 && fx < 1 && fy >= 0 && fy < 1;
    auto scale = [](double f) {
        double v = std::floor(std::clamp(f, 0.0, 1.0) * 32768.0);
        return uint16_t(std::min(v, 32767.0));
    };
    p.x = scale(fx);
    p.y = scale(fy);
    return p;
}

} // namespace e2kvm::sys

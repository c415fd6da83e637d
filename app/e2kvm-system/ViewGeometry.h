#pragma once
// ViewGeometry: where the guest picture goes inside a window (aspect kept, optionally whole
// scale factors only) and how a pointer position in the window maps to the guest's absolute
// pointer range. Pure arithmetic, shared by the SDL display and its tests.
#include <cstdint>

namespace e2kvm::sys {

struct ViewRect {
    int x = 0, y = 0, w = 0, h = 0;
    bool operator==(const ViewRect&) const = default;
};

// The largest rectangle with the frame's aspect ratio centred in an output of outW x outH.
// integerScale: the largest whole factor (at least 1) that fits; a frame bigger than the
// output is still shrunk to fit. Degenerate sizes give an empty rectangle.
ViewRect fitFrame(int frameW, int frameH, int outW, int outH, bool integerScale);

struct GuestPointer {
    uint16_t x = 0, y = 0; // 0..32767 across the guest display
    bool inside = false;   // the position was over the picture (else clamped to its edge)
};

// Maps a position in output pixels to the absolute pointer range of the guest display.
GuestPointer outputToGuest(const ViewRect& view, double px, double py);

} // namespace e2kvm::sys

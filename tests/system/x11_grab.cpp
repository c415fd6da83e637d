// x11_grab: saves the root window of an X display as PNG (the screenshot half of the SDL window
// test; xwd is not installed on every developer machine, Xlib comes with SDL2's headers).
// usage: x11_grab OUT.png   (uses $DISPLAY)
#include "emu/display/Png.h"

#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: x11_grab OUT.png\n");
        return 2;
    }
    Display* dpy = XOpenDisplay(nullptr);
    if (!dpy) {
        std::fprintf(stderr, "x11_grab: cannot open display\n");
        return 1;
    }
    Window root = DefaultRootWindow(dpy);
    XWindowAttributes attr{};
    XGetWindowAttributes(dpy, root, &attr);
    XImage* img =
        XGetImage(dpy, root, 0, 0, unsigned(attr.width), unsigned(attr.height), AllPlanes, ZPixmap);
    if (!img) {
        std::fprintf(stderr, "x11_grab: XGetImage failed\n");
        XCloseDisplay(dpy);
        return 1;
    }
    e2kvm::emu::FrameImage frame;
    frame.width = attr.width;
    frame.height = attr.height;
    frame.pixels.resize(size_t(attr.width) * size_t(attr.height));
    auto channel = [](unsigned long pixel, unsigned long mask) -> uint32_t {
        if (!mask)
            return 0;
        int shift = 0;
        while (!(mask & 1)) {
            mask >>= 1;
            ++shift;
        }
        unsigned long v = (pixel >> shift) & mask;
        return uint32_t(v * 255 / mask);
    };
    for (int y = 0; y < attr.height; ++y)
        for (int x = 0; x < attr.width; ++x) {
            unsigned long p = XGetPixel(img, x, y);
            frame.pixels[size_t(y) * size_t(attr.width) + size_t(x)] =
                channel(p, img->red_mask) << 16 | channel(p, img->green_mask) << 8 |
                channel(p, img->blue_mask);
        }
    XDestroyImage(img);
    XCloseDisplay(dpy);
    try {
        e2kvm::emu::writePngFile(argv[1], frame);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "x11_grab: %s\n", e.what());
        return 1;
    }
    return 0;
}

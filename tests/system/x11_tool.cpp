// x11_tool: what the SDL window test needs from the X server, through plain Xlib (no xwd or
// xdotool on every machine; Xlib comes with SDL2's development files):
//   x11_tool grab OUT.png|OUT.ppm     save the root window
//   x11_tool find TITLE-PART          print "x y w h title" of the first top-level window whose
//                                     title contains TITLE-PART (exit 1 if none)
//   x11_tool key TITLE-PART KEY...    focus that window and send key presses and releases;
//                                     KEY is a keysym name ("a", "Return"), "+name" presses
//                                     only, "-name" releases only (for chords such as
//                                     "+Control_L +Alt_L g -Alt_L -Control_L")
//   x11_tool resize TITLE-PART W H    resize the window as a user dragging its border would
//   x11_tool close TITLE-PART         ask the window to close (WM_DELETE_WINDOW)
// Uses $DISPLAY.
#include "emu/display/Png.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unistd.h>

namespace {

Display* dpy = nullptr;

int fail(const std::string& message) {
    std::fprintf(stderr, "x11_tool: %s\n", message.c_str());
    return 1;
}

std::string windowTitle(Window w) {
    Atom utf8 = XInternAtom(dpy, "UTF8_STRING", False);
    Atom netName = XInternAtom(dpy, "_NET_WM_NAME", False);
    Atom type;
    int format;
    unsigned long count, after;
    unsigned char* data = nullptr;
    std::string title;
    if (XGetWindowProperty(dpy, w, netName, 0, 1024, False, utf8, &type, &format, &count, &after,
                           &data) == Success &&
        data) {
        title.assign(reinterpret_cast<char*>(data), count);
        XFree(data);
        return title;
    }
    char* name = nullptr;
    if (XFetchName(dpy, w, &name) && name) {
        title = name;
        XFree(name);
    }
    return title;
}

Window findWindow(const std::string& part, std::string* title = nullptr) {
    Window root = DefaultRootWindow(dpy), parent, *children = nullptr;
    unsigned n = 0;
    if (!XQueryTree(dpy, root, &root, &parent, &children, &n))
        return 0;
    Window found = 0;
    for (unsigned i = 0; i < n && !found; ++i) {
        std::string t = windowTitle(children[i]);
        if (!t.empty() && t.find(part) != std::string::npos) {
            found = children[i];
            if (title)
                *title = t;
        }
    }
    if (children)
        XFree(children);
    return found;
}

int grab(const std::string& out) {
    Window root = DefaultRootWindow(dpy);
    XWindowAttributes attr{};
    XGetWindowAttributes(dpy, root, &attr);
    XImage* img =
        XGetImage(dpy, root, 0, 0, unsigned(attr.width), unsigned(attr.height), AllPlanes, ZPixmap);
    if (!img)
        return fail("XGetImage failed");
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
        return uint32_t(((pixel >> shift) & mask) * 255 / mask);
    };
    for (int y = 0; y < attr.height; ++y)
        for (int x = 0; x < attr.width; ++x) {
            unsigned long p = XGetPixel(img, x, y);
            frame.pixels[size_t(y) * size_t(attr.width) + size_t(x)] =
                channel(p, img->red_mask) << 16 | channel(p, img->green_mask) << 8 |
                channel(p, img->blue_mask);
        }
    XDestroyImage(img);
    try {
        if (out.size() > 4 && out.substr(out.size() - 4) == ".ppm")
            e2kvm::emu::writePpmFile(out, frame);
        else
            e2kvm::emu::writePngFile(out, frame);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    return 0;
}

int find(const std::string& part) {
    std::string title;
    Window w = findWindow(part, &title);
    if (!w)
        return fail("no window titled '*" + part + "*'");
    XWindowAttributes attr{};
    XGetWindowAttributes(dpy, w, &attr);
    std::printf("%d %d %d %d %s\n", attr.x, attr.y, attr.width, attr.height, title.c_str());
    return 0;
}

int keys(const std::string& part, int count, char** names) {
    Window w = findWindow(part);
    if (!w)
        return fail("no window titled '*" + part + "*'");
    XSetInputFocus(dpy, w, RevertToParent, CurrentTime);
    XSync(dpy, False);
    usleep(100000);
    unsigned state = 0;
    for (int i = 0; i < count; ++i) {
        std::string name = names[i];
        bool press = true, release = true;
        if (name.size() > 1 && (name[0] == '+' || name[0] == '-')) {
            press = name[0] == '+';
            release = !press;
            name = name.substr(1);
        }
        KeySym sym = XStringToKeysym(name.c_str());
        KeyCode code = sym == NoSymbol ? 0 : XKeysymToKeycode(dpy, sym);
        if (!code)
            return fail("no key for keysym '" + name + "'");
        unsigned mask = 0;
        if (sym == XK_Control_L || sym == XK_Control_R)
            mask = ControlMask;
        else if (sym == XK_Alt_L || sym == XK_Alt_R)
            mask = Mod1Mask;
        else if (sym == XK_Shift_L || sym == XK_Shift_R)
            mask = ShiftMask;
        for (int phase = 0; phase < 2; ++phase) {
            bool down = phase == 0;
            if ((down && !press) || (!down && !release))
                continue;
            XKeyEvent ev{};
            ev.type = down ? KeyPress : KeyRelease;
            ev.display = dpy;
            ev.window = w;
            ev.root = DefaultRootWindow(dpy);
            ev.subwindow = None;
            ev.time = CurrentTime;
            ev.x = ev.y = ev.x_root = ev.y_root = 1;
            ev.same_screen = True;
            ev.keycode = code;
            ev.state = state;
            XSendEvent(dpy, w, True, down ? KeyPressMask : KeyReleaseMask,
                       reinterpret_cast<XEvent*>(&ev));
            state = down ? (state | mask) : (state & ~mask);
            XSync(dpy, False);
            usleep(30000);
        }
    }
    return 0;
}

int resize(const std::string& part, const char* w, const char* h) {
    Window win = findWindow(part);
    if (!win)
        return fail("no window titled '*" + part + "*'");
    int width = std::atoi(w), height = std::atoi(h);
    if (width <= 0 || height <= 0)
        return fail("bad size");
    XResizeWindow(dpy, win, unsigned(width), unsigned(height));
    XSync(dpy, False);
    return 0;
}

int closeWindow(const std::string& part) {
    Window w = findWindow(part);
    if (!w)
        return fail("no window titled '*" + part + "*'");
    XEvent ev{};
    ev.xclient.type = ClientMessage;
    ev.xclient.window = w;
    ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
    ev.xclient.format = 32;
    ev.xclient.data.l[0] = long(XInternAtom(dpy, "WM_DELETE_WINDOW", False));
    ev.xclient.data.l[1] = CurrentTime;
    XSendEvent(dpy, w, False, NoEventMask, &ev);
    XSync(dpy, False);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: x11_tool grab OUT | find TITLE | key TITLE KEY... | resize "
                             "TITLE W H | close TITLE\n");
        return 2;
    }
    dpy = XOpenDisplay(nullptr);
    if (!dpy)
        return fail("cannot open display");
    std::string cmd = argv[1];
    int rc;
    if (cmd == "grab")
        rc = grab(argv[2]);
    else if (cmd == "find")
        rc = find(argv[2]);
    else if (cmd == "key")
        rc = keys(argv[2], argc - 3, argv + 3);
    else if (cmd == "resize" && argc == 5)
        rc = resize(argv[2], argv[3], argv[4]);
    else if (cmd == "close")
        rc = closeWindow(argv[2]);
    else
        rc = fail("unknown command '" + cmd + "'");
    XCloseDisplay(dpy);
    return rc;
}

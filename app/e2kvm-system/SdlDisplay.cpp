#include "app/e2kvm-system/SdlDisplay.h"

#include "app/e2kvm-system/SdlKeymap.h"
#include "app/e2kvm-system/ViewGeometry.h"

#include <SDL.h>

#include <stdexcept>

namespace e2kvm::sys {

namespace {

// Codes of our one registered SDL user event type.
enum UserCode : Sint32 { kFrame = 1, kStop = 2, kStatus = 3 };

constexpr int kDefaultWidth = 640, kDefaultHeight = 480;

// The e2k-vm pointer's BUTTONS bits: 0 left, 1 right, 2 middle.
uint32_t guestButtonBit(Uint8 sdlButton) {
    switch (sdlButton) {
    case SDL_BUTTON_LEFT:
        return 1;
    case SDL_BUTTON_RIGHT:
        return 2;
    case SDL_BUTTON_MIDDLE:
        return 4;
    default:
        return 0;
    }
}

std::runtime_error sdlError(const std::string& what) {
    return std::runtime_error("SDL: " + what + ": " + SDL_GetError());
}

} // namespace

struct SdlDisplay::Sdl {
    SDL_Window* window = nullptr;
    SDL_Renderer* renderer = nullptr;
    SDL_Texture* texture = nullptr;
    int texW = 0, texH = 0;
    ~Sdl() {
        if (texture)
            SDL_DestroyTexture(texture);
        if (renderer)
            SDL_DestroyRenderer(renderer);
        if (window)
            SDL_DestroyWindow(window);
        SDL_Quit(); // also closes its D-Bus connection (left open, it is a leak report)
    }
};

SdlDisplay::SdlDisplay(emu::FramePublisher& frames, emu::InputSink& input,
                       SdlDisplayOptions options)
    : frames_(frames), input_(input), options_(std::move(options)) {
    // The process handles SIGINT/SIGTERM itself; SDL must not turn them into SDL_QUIT.
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    // Let the Alt+Tab and similar keys reach the guest while grabbed.
    SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0)
        throw sdlError("could not initialize video");
    sdl_ = std::make_unique<Sdl>();
    // When neither X11 nor Wayland can be reached SDL falls back to an invisible "offscreen"
    // window; unless that was asked for ($SDL_VIDEODRIVER), it is no display at all.
    const char* driver = SDL_GetCurrentVideoDriver();
    const char* wanted = SDL_getenv("SDL_VIDEODRIVER");
    if (driver && (SDL_strcmp(driver, "offscreen") == 0 || SDL_strcmp(driver, "dummy") == 0) &&
        !(wanted && *wanted))
        throw std::runtime_error("SDL: could not reach a display (no X11 or Wayland server at "
                                 "$DISPLAY / $WAYLAND_DISPLAY)");
    eventType_ = SDL_RegisterEvents(1);
    if (eventType_ == uint32_t(-1))
        throw sdlError("no user event type left");

    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI | SDL_WINDOW_SHOWN;
    sdl_->window = SDL_CreateWindow("e2kvm", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                    kDefaultWidth, kDefaultHeight, flags);
    if (!sdl_->window)
        throw sdlError("could not open a window");
    sdl_->renderer = SDL_CreateRenderer(sdl_->window, -1, 0);
    if (!sdl_->renderer)
        sdl_->renderer = SDL_CreateRenderer(sdl_->window, -1, SDL_RENDERER_SOFTWARE);
    if (!sdl_->renderer)
        throw sdlError("could not create a renderer");
    SDL_ShowCursor(options_.showCursor ? SDL_ENABLE : SDL_DISABLE);
    if (options_.fullScreen)
        toggleFullScreen();
    updateTitle();
    present();

    listener_ = frames_.subscribe([this] {
        // One wake-up in flight at a time: the display takes the newest frame when it gets
        // to it, so frames published meanwhile are dropped rather than queued.
        if (framePending_.exchange(true))
            return;
        SDL_Event e{};
        e.type = eventType_;
        e.user.code = kFrame;
        if (SDL_PushEvent(&e) != 1)
            framePending_ = false;
    });
    // The machine may have published before the window existed: look once without waiting
    // for the next publish (a paused or idle guest may not publish again for a while).
    framePending_ = true;
    SDL_Event first{};
    first.type = eventType_;
    first.user.code = kFrame;
    if (SDL_PushEvent(&first) != 1)
        framePending_ = false;
}

SdlDisplay::~SdlDisplay() {
    frames_.unsubscribe(listener_);
    if (grabbed_)
        setGrab(false);
}

void SdlDisplay::stop() {
    SDL_Event e{};
    e.type = eventType_;
    e.user.code = kStop;
    SDL_PushEvent(&e);
}

void SdlDisplay::setStatus(const std::string& status) {
    {
        std::lock_guard lock(statusMutex_);
        status_ = status;
    }
    SDL_Event e{};
    e.type = eventType_;
    e.user.code = kStatus;
    SDL_PushEvent(&e);
}

void SdlDisplay::setOnFirstPresent(std::function<void()> cb) {
    onFirstPresent_ = std::move(cb);
}

void SdlDisplay::updateTitle() {
    std::string title = options_.name.empty() ? "e2kvm" : "e2kvm (" + options_.name + ")";
    {
        std::lock_guard lock(statusMutex_);
        if (!status_.empty())
            title += " [" + status_ + "]";
    }
    if (grabbed_)
        title += " - Press Ctrl+Alt+G to release grab";
    SDL_SetWindowTitle(sdl_->window, title.c_str());
}

void SdlDisplay::setGrab(bool on) {
    grabbed_ = on;
    SDL_SetWindowGrab(sdl_->window, on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowKeyboardGrab(sdl_->window, on ? SDL_TRUE : SDL_FALSE);
    updateTitle();
}

void SdlDisplay::toggleFullScreen() {
    fullScreen_ = !fullScreen_;
    SDL_SetWindowFullscreen(sdl_->window, fullScreen_ ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    if (!fullScreen_ && sdl_->texW > 0)
        fitWindowToFrame();
    present();
}

void SdlDisplay::fitWindowToFrame() {
    SDL_SetWindowSize(sdl_->window, sdl_->texW, sdl_->texH);
    // A window that grew past the screen edge (the guest switched to a bigger mode) moves back.
    SDL_Rect screen{};
    int index = SDL_GetWindowDisplayIndex(sdl_->window);
    if (index < 0 || SDL_GetDisplayUsableBounds(index, &screen) != 0)
        return;
    int x = 0, y = 0;
    SDL_GetWindowPosition(sdl_->window, &x, &y);
    if (x < screen.x || y < screen.y || x + sdl_->texW > screen.x + screen.w ||
        y + sdl_->texH > screen.y + screen.h)
        SDL_SetWindowPosition(sdl_->window, SDL_WINDOWPOS_CENTERED_DISPLAY(index),
                              SDL_WINDOWPOS_CENTERED_DISPLAY(index));
}

void SdlDisplay::onFrameEvent() {
    framePending_ = false;
    std::optional<emu::FramePublisher::Taken> taken = frames_.take(listener_);
    if (!taken || !taken->image)
        return;
    const emu::FrameImage& img = *taken->image;
    if (img.width <= 0 || img.height <= 0 ||
        img.pixels.size() < size_t(img.width) * size_t(img.height))
        return;
    emu::Rect dirty = taken->dirty.clipped(img.width, img.height);
    if (!sdl_->texture || taken->resized || sdl_->texW != img.width || sdl_->texH != img.height) {
        if (sdl_->texture)
            SDL_DestroyTexture(sdl_->texture);
        sdl_->texture = SDL_CreateTexture(sdl_->renderer, SDL_PIXELFORMAT_XRGB8888,
                                          SDL_TEXTUREACCESS_STREAMING, img.width, img.height);
        if (!sdl_->texture)
            throw sdlError("could not create a " + std::to_string(img.width) + "x" +
                           std::to_string(img.height) + " texture");
        sdl_->texW = img.width;
        sdl_->texH = img.height;
        if (!fullScreen_)
            fitWindowToFrame();
        dirty = {0, 0, img.width, img.height};
    }
    if (!dirty.empty()) {
        SDL_Rect r{dirty.x, dirty.y, dirty.w, dirty.h};
        const uint32_t* src =
            img.pixels.data() + size_t(dirty.y) * size_t(img.width) + size_t(dirty.x);
        SDL_UpdateTexture(sdl_->texture, &r, src, img.width * 4);
        uploaded_ += uint64_t(dirty.w) * uint64_t(dirty.h);
    }
    bool first = !shown_;
    shown_ = taken->image;
    present();
    if (first && onFirstPresent_)
        onFirstPresent_();
}

void SdlDisplay::present() {
    SDL_SetRenderDrawColor(sdl_->renderer, 0, 0, 0, 255);
    SDL_RenderClear(sdl_->renderer);
    if (sdl_->texture) {
        int outW = 0, outH = 0;
        SDL_GetRendererOutputSize(sdl_->renderer, &outW, &outH);
        ViewRect v = fitFrame(sdl_->texW, sdl_->texH, outW, outH, options_.integerScale);
        bool exact = v.w % sdl_->texW == 0 && v.h % sdl_->texH == 0;
        SDL_SetTextureScaleMode(sdl_->texture, exact ? SDL_ScaleModeNearest : SDL_ScaleModeLinear);
        SDL_Rect dst{v.x, v.y, v.w, v.h};
        SDL_RenderCopy(sdl_->renderer, sdl_->texture, nullptr, &dst);
        ++presented_;
    }
    SDL_RenderPresent(sdl_->renderer);
}

void SdlDisplay::releasePressedKeys() {
    for (int sc = 0; sc < SDL_NUM_SCANCODES; ++sc) {
        if (pressed_[sc]) {
            pressed_[sc] = false;
            if (uint16_t code = sdlScancodeToSet1(sc))
                input_.keyEvent(code, false);
        }
    }
}

void SdlDisplay::handleKey(const void* event) {
    const SDL_KeyboardEvent& k = *static_cast<const SDL_KeyboardEvent*>(event);
    int sc = int(k.keysym.scancode);
    if (sc < 0 || sc >= SDL_NUM_SCANCODES)
        return;
    bool down = k.type == SDL_KEYDOWN;
    if (down) {
        SDL_Keymod mod = SDL_GetModState();
        bool hot = (mod & KMOD_CTRL) && (mod & KMOD_ALT);
        if (hot && (sc == SDL_SCANCODE_F || sc == SDL_SCANCODE_G)) {
            swallowed_[sc] = true;
            if (k.repeat)
                return;
            if (sc == SDL_SCANCODE_F)
                toggleFullScreen();
            else
                setGrab(!grabbed_);
            return;
        }
    } else if (swallowed_[sc]) {
        swallowed_[sc] = false;
        return;
    }
    uint16_t code = sdlScancodeToSet1(sc);
    if (!code)
        return;
    if (!down && !pressed_[sc])
        return; // its press went elsewhere (before focus)
    pressed_[sc] = down;
    // Held keys repeat as repeated make codes, as a PC keyboard's typematic repeat does.
    input_.keyEvent(code, down);
}

void SdlDisplay::handlePointer(int windowX, int windowY, uint32_t buttons) {
    if (!sdl_->texture)
        return;
    int winW = 0, winH = 0, outW = 0, outH = 0;
    SDL_GetWindowSize(sdl_->window, &winW, &winH);
    SDL_GetRendererOutputSize(sdl_->renderer, &outW, &outH);
    if (winW <= 0 || winH <= 0)
        return;
    // Window coordinates are in points; the picture is placed in output pixels (HiDPI).
    double px = double(windowX) * outW / winW, py = double(windowY) * outH / winH;
    ViewRect v = fitFrame(sdl_->texW, sdl_->texH, outW, outH, options_.integerScale);
    GuestPointer p = outputToGuest(v, px, py);
    // Outside the picture only button changes matter (a drag may end there).
    if (!p.inside && buttons == buttons_ && !grabbed_)
        return;
    buttons_ = buttons;
    input_.pointerEvent(p.x, p.y, buttons);
}

SdlDisplay::Exit SdlDisplay::run() {
    SDL_Event e;
    for (;;) {
        if (SDL_WaitEvent(&e) != 1)
            throw sdlError("waiting for events failed");
        if (e.type == eventType_) {
            switch (e.user.code) {
            case kFrame:
                onFrameEvent();
                break;
            case kStop:
                return Exit::Stopped;
            case kStatus:
                updateTitle();
                break;
            }
            continue;
        }
        switch (e.type) {
        case SDL_QUIT:
            if (options_.windowClose)
                return Exit::Closed;
            break;
        case SDL_WINDOWEVENT:
            switch (e.window.event) {
            case SDL_WINDOWEVENT_CLOSE:
                if (options_.windowClose)
                    return Exit::Closed;
                break;
            case SDL_WINDOWEVENT_SIZE_CHANGED:
            case SDL_WINDOWEVENT_EXPOSED:
                present();
                break;
            case SDL_WINDOWEVENT_FOCUS_LOST:
                releasePressedKeys();
                break;
            default:
                break;
            }
            break;
        case SDL_KEYDOWN:
        case SDL_KEYUP:
            handleKey(&e.key);
            break;
        case SDL_MOUSEMOTION:
            handlePointer(e.motion.x, e.motion.y, buttons_);
            break;
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP: {
            uint32_t bit = guestButtonBit(e.button.button);
            uint32_t buttons = e.type == SDL_MOUSEBUTTONDOWN ? (buttons_ | bit) : (buttons_ & ~bit);
            handlePointer(e.button.x, e.button.y, buttons);
            break;
        }
        default:
            break;
        }
    }
}

} // namespace e2kvm::sys

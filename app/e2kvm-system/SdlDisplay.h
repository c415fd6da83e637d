#pragma once
// SdlDisplay: the e2kvm-system window. Shows a FramePublisher's frames (the texture is updated
// in the dirty rectangles only; frames the window is too slow for are dropped), sends keyboard
// (PC set 1) and absolute pointer input to an InputSink, and handles the Ctrl+Alt hot keys:
// F full screen, G keyboard/mouse grab. SDL wants its video calls on one thread: construct,
// run() and destroy it on the main thread; stop() and setStatus() work from any thread.
#include "emu/display/FramePublisher.h"
#include "emu/display/InputSink.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace e2kvm::sys {

struct SdlDisplayOptions {
    std::string name;          // VM name for the title ("" = none)
    bool integerScale = false; // whole scale factors only
    bool windowClose = true;   // closing the window ends run() with Exit::Closed
    bool showCursor = true;    // host cursor visible over the picture
    bool fullScreen = false;
};

class SdlDisplay {
public:
    // Opens the window (black, 640x480 until the first frame). Throws std::runtime_error
    // ("SDL: could not initialize video: ...") when there is no usable display.
    SdlDisplay(emu::FramePublisher& frames, emu::InputSink& input, SdlDisplayOptions options);
    ~SdlDisplay();
    SdlDisplay(const SdlDisplay&) = delete;
    SdlDisplay& operator=(const SdlDisplay&) = delete;

    enum class Exit { Stopped, Closed };
    // Handles window events until stop() is called or the user closes the window.
    Exit run();
    void stop();
    // A state shown in the title, e.g. "Stopped" ("" = none).
    void setStatus(const std::string& status);
    // Called on the display thread after the first guest frame is on screen.
    void setOnFirstPresent(std::function<void()> cb);

    // Counters for benchmarks and tests.
    uint64_t framesPresented() const { return presented_.load(); }
    uint64_t pixelsUploaded() const { return uploaded_.load(); }

private:
    struct Sdl;
    void onFrameEvent();
    void present();
    void updateTitle();
    void setGrab(bool on);
    void toggleFullScreen();
    void fitWindowToFrame();
    void handleKey(const void* event);
    void handlePointer(int windowX, int windowY, uint32_t buttons);
    void releasePressedKeys();

    emu::FramePublisher& frames_;
    emu::InputSink& input_;
    SdlDisplayOptions options_;
    std::unique_ptr<Sdl> sdl_;
    int listener_ = 0;
    uint32_t eventType_ = 0;
    std::atomic<bool> framePending_{false};

    std::mutex statusMutex_;
    std::string status_;

    std::shared_ptr<const emu::FrameImage> shown_; // frame the texture holds
    bool grabbed_ = false;
    bool fullScreen_ = false;
    uint32_t buttons_ = 0;
    bool pressed_[512] = {};   // SDL scancodes currently held down (sent to the guest)
    bool swallowed_[512] = {}; // hot-key scancodes whose release must not reach the guest
    std::function<void()> onFirstPresent_;
    std::atomic<uint64_t> presented_{0}, uploaded_{0};
};

} // namespace e2kvm::sys

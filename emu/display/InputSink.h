#pragma once
// InputSink: where a display front end (SDL window, Qt console, QMP) sends keyboard and pointer
// input for a guest. Implementations must be callable from any thread and must not block.
#include <cstdint>

namespace e2kvm::emu {

class InputSink {
public:
    virtual ~InputSink() = default;
    // PC scancode set 1 make code; extended keys as 0xE0xx (e.g. right Ctrl = 0xE01D).
    virtual void keyEvent(uint16_t scancode, bool pressed) = 0;
    // Absolute pointer: x and y in 0..32767 across the display; buttons bit 0 left, 1 right,
    // 2 middle.
    virtual void pointerEvent(uint16_t x, uint16_t y, uint32_t buttons) = 0;
};

} // namespace e2kvm::emu

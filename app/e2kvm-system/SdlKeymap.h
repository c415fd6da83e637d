#pragma once
// SdlKeymap: SDL scancodes (physical key positions, USB HID usages) to the PC scancode set 1
// make codes the e2k-vm keyboard takes (extended keys as 0xE0xx), as one table.
#include <SDL_scancode.h>

#include <cstdint>
#include <span>

namespace e2kvm::sys {

struct KeymapEntry {
    SDL_Scancode sdl;
    uint16_t set1; // make code; 0xE0xx for E0-prefixed keys
};

// The whole table, in SDL scancode order (for tests and documentation).
std::span<const KeymapEntry> sdlKeymap();

// The set-1 make code for an SDL scancode, or 0 if the key has none (it is then not sent).
// Takes any int so that values outside the enum (from a newer SDL) are safe to pass.
uint16_t sdlScancodeToSet1(int code);

} // namespace e2kvm::sys

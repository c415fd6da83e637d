#pragma once
// KeyMap: host key → PC scancode set 1 (the e2k-vm keyboard's code). Physical positions, not
// characters: on xcb/wayland QKeyEvent::nativeScanCode() is the XKB keycode = evdev code + 8;
// platforms without scan codes (offscreen, tests) fall back to a Qt::Key table (US layout).
#include <Qt>

#include <cstdint>

class QKeyEvent;

namespace e2kvm::ui {

// Set-1 make code for a Linux evdev key code (extended keys as 0xE0xx), 0 if unmapped.
uint16_t scancodeFromEvdev(uint32_t evdev);
// Set-1 make code for a Qt key (keypad keys need Qt::KeypadModifier), 0 if unmapped.
uint16_t scancodeFromQtKey(int key, Qt::KeyboardModifiers modifiers);
// The event's scancode: native code when `useNativeCodes` and it has one, else the Qt::Key
// fallback. 0 if the key has no set-1 code.
uint16_t scancodeFor(const QKeyEvent& event, bool useNativeCodes);
// Whether the running platform plugin reports XKB keycodes (xcb, wayland).
bool platformHasXkbKeycodes();

} // namespace e2kvm::ui

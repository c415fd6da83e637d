#include "ui/console/KeyMap.h"

#include <QGuiApplication>
#include <QKeyEvent>

namespace e2kvm::ui {

uint16_t scancodeFromEvdev(uint32_t evdev) {
    // evdev codes 1..88 are the set-1 codes of the same keys (ESC = 1 ... F12 = 88 = 0x58),
    // except the gaps 84 and 85 (no key) handled below.
    if (evdev >= 1 && evdev <= 83)
        return static_cast<uint16_t>(evdev);
    switch (evdev) {
    case 86:
        return 0x56; // the extra key left of Z on ISO keyboards
    case 87:
        return 0x57; // F11
    case 88:
        return 0x58; // F12
    case 96:
        return 0xE01C; // keypad Enter
    case 97:
        return 0xE01D; // right Ctrl
    case 98:
        return 0xE035; // keypad /
    case 99:
        return 0xE037; // Print Screen / SysRq
    case 100:
        return 0xE038; // right Alt (AltGr)
    case 102:
        return 0xE047; // Home
    case 103:
        return 0xE048; // Up
    case 104:
        return 0xE049; // Page Up
    case 105:
        return 0xE04B; // Left
    case 106:
        return 0xE04D; // Right
    case 107:
        return 0xE04F; // End
    case 108:
        return 0xE050; // Down
    case 109:
        return 0xE051; // Page Down
    case 110:
        return 0xE052; // Insert
    case 111:
        return 0xE053; // Delete
    case 113:
        return 0xE020; // Mute
    case 114:
        return 0xE02E; // Volume down
    case 115:
        return 0xE030; // Volume up
    case 117:
        return 0x59; // keypad =
    case 125:
        return 0xE05B; // left Meta
    case 126:
        return 0xE05C; // right Meta
    case 127:
        return 0xE05D; // Menu
    default:
        return 0; // Pause (an E1 sequence) and the rest have no single code
    }
}

namespace {

uint16_t keypadKey(int key) {
    switch (key) {
    case Qt::Key_7:
    case Qt::Key_Home:
        return 0x47;
    case Qt::Key_8:
    case Qt::Key_Up:
        return 0x48;
    case Qt::Key_9:
    case Qt::Key_PageUp:
        return 0x49;
    case Qt::Key_Minus:
        return 0x4A;
    case Qt::Key_4:
    case Qt::Key_Left:
        return 0x4B;
    case Qt::Key_5:
    case Qt::Key_Clear:
        return 0x4C;
    case Qt::Key_6:
    case Qt::Key_Right:
        return 0x4D;
    case Qt::Key_Plus:
        return 0x4E;
    case Qt::Key_1:
    case Qt::Key_End:
        return 0x4F;
    case Qt::Key_2:
    case Qt::Key_Down:
        return 0x50;
    case Qt::Key_3:
    case Qt::Key_PageDown:
        return 0x51;
    case Qt::Key_0:
    case Qt::Key_Insert:
        return 0x52;
    case Qt::Key_Period:
    case Qt::Key_Comma:
    case Qt::Key_Delete:
        return 0x53;
    case Qt::Key_Asterisk:
        return 0x37;
    case Qt::Key_Slash:
        return 0xE035;
    case Qt::Key_Enter:
    case Qt::Key_Return:
        return 0xE01C;
    case Qt::Key_NumLock:
        return 0x45;
    default:
        return 0;
    }
}

} // namespace

uint16_t scancodeFromQtKey(int key, Qt::KeyboardModifiers modifiers) {
    if (modifiers & Qt::KeypadModifier) {
        if (uint16_t code = keypadKey(key))
            return code;
    }
    // Letters by their US QWERTY position.
    static constexpr uint8_t letters[26] = {
        0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32, // A..M
        0x31, 0x18, 0x19, 0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C, // N..Z
    };
    if (key >= Qt::Key_A && key <= Qt::Key_Z)
        return letters[key - Qt::Key_A];
    if (key >= Qt::Key_1 && key <= Qt::Key_9)
        return static_cast<uint16_t>(0x02 + (key - Qt::Key_1));
    if (key >= Qt::Key_F1 && key <= Qt::Key_F10)
        return static_cast<uint16_t>(0x3B + (key - Qt::Key_F1));
    switch (key) {
    case Qt::Key_0:
    case Qt::Key_ParenRight:
        return 0x0B;
    // Shifted digits of a US keyboard.
    case Qt::Key_Exclam:
        return 0x02;
    case Qt::Key_At:
        return 0x03;
    case Qt::Key_NumberSign:
        return 0x04;
    case Qt::Key_Dollar:
        return 0x05;
    case Qt::Key_Percent:
        return 0x06;
    case Qt::Key_AsciiCircum:
        return 0x07;
    case Qt::Key_Ampersand:
        return 0x08;
    case Qt::Key_Asterisk:
        return 0x09;
    case Qt::Key_ParenLeft:
        return 0x0A;
    case Qt::Key_Escape:
        return 0x01;
    case Qt::Key_Minus:
    case Qt::Key_Underscore:
        return 0x0C;
    case Qt::Key_Equal:
    case Qt::Key_Plus:
        return 0x0D;
    case Qt::Key_Backspace:
        return 0x0E;
    case Qt::Key_Tab:
    case Qt::Key_Backtab:
        return 0x0F;
    case Qt::Key_BracketLeft:
    case Qt::Key_BraceLeft:
        return 0x1A;
    case Qt::Key_BracketRight:
    case Qt::Key_BraceRight:
        return 0x1B;
    case Qt::Key_Return:
        return 0x1C;
    case Qt::Key_Enter:
        return 0xE01C;
    case Qt::Key_Control:
        return 0x1D;
    case Qt::Key_Semicolon:
    case Qt::Key_Colon:
        return 0x27;
    case Qt::Key_Apostrophe:
    case Qt::Key_QuoteDbl:
        return 0x28;
    case Qt::Key_QuoteLeft:
    case Qt::Key_AsciiTilde:
        return 0x29;
    case Qt::Key_Shift:
        return 0x2A;
    case Qt::Key_Backslash:
    case Qt::Key_Bar:
        return 0x2B;
    case Qt::Key_Comma:
    case Qt::Key_Less:
        return 0x33;
    case Qt::Key_Period:
    case Qt::Key_Greater:
        return 0x34;
    case Qt::Key_Slash:
    case Qt::Key_Question:
        return 0x35;
    case Qt::Key_Alt:
        return 0x38;
    case Qt::Key_Space:
        return 0x39;
    case Qt::Key_CapsLock:
        return 0x3A;
    case Qt::Key_NumLock:
        return 0x45;
    case Qt::Key_ScrollLock:
        return 0x46;
    case Qt::Key_F11:
        return 0x57;
    case Qt::Key_F12:
        return 0x58;
    case Qt::Key_AltGr:
        return 0xE038;
    case Qt::Key_Print:
    case Qt::Key_SysReq:
        return 0xE037;
    case Qt::Key_Home:
        return 0xE047;
    case Qt::Key_Up:
        return 0xE048;
    case Qt::Key_PageUp:
        return 0xE049;
    case Qt::Key_Left:
        return 0xE04B;
    case Qt::Key_Right:
        return 0xE04D;
    case Qt::Key_End:
        return 0xE04F;
    case Qt::Key_Down:
        return 0xE050;
    case Qt::Key_PageDown:
        return 0xE051;
    case Qt::Key_Insert:
        return 0xE052;
    case Qt::Key_Delete:
        return 0xE053;
    case Qt::Key_Meta:
    case Qt::Key_Super_L:
        return 0xE05B;
    case Qt::Key_Super_R:
        return 0xE05C;
    case Qt::Key_Menu:
        return 0xE05D;
    default:
        return 0;
    }
}

uint16_t scancodeFor(const QKeyEvent& event, bool useNativeCodes) {
    quint32 native = event.nativeScanCode();
    if (useNativeCodes && native > 8) {
        if (uint16_t code = scancodeFromEvdev(native - 8))
            return code;
    }
    return scancodeFromQtKey(event.key(), event.modifiers());
}

bool platformHasXkbKeycodes() {
    QString platform = QGuiApplication::platformName();
    return platform == QLatin1String("xcb") || platform.startsWith(QLatin1String("wayland"));
}

} // namespace e2kvm::ui

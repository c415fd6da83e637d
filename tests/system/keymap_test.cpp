// The SDL scancode -> PC scancode set 1 table.
#include "app/e2kvm-system/SdlKeymap.h"

#include <SDL_keyboard.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace e2kvm::sys;

TEST(SdlKeymap, KnownKeys) {
    // Expected make codes from the IBM PC/AT set 1 layout, one row of the keyboard at a time.
    const std::pair<SDL_Scancode, uint16_t> expected[] = {
        {SDL_SCANCODE_ESCAPE, 0x01},
        {SDL_SCANCODE_1, 0x02},
        {SDL_SCANCODE_0, 0x0B},
        {SDL_SCANCODE_MINUS, 0x0C},
        {SDL_SCANCODE_EQUALS, 0x0D},
        {SDL_SCANCODE_BACKSPACE, 0x0E},
        {SDL_SCANCODE_TAB, 0x0F},
        {SDL_SCANCODE_Q, 0x10},
        {SDL_SCANCODE_P, 0x19},
        {SDL_SCANCODE_LEFTBRACKET, 0x1A},
        {SDL_SCANCODE_RETURN, 0x1C},
        {SDL_SCANCODE_LCTRL, 0x1D},
        {SDL_SCANCODE_A, 0x1E},
        {SDL_SCANCODE_L, 0x26},
        {SDL_SCANCODE_SEMICOLON, 0x27},
        {SDL_SCANCODE_APOSTROPHE, 0x28},
        {SDL_SCANCODE_GRAVE, 0x29},
        {SDL_SCANCODE_LSHIFT, 0x2A},
        {SDL_SCANCODE_BACKSLASH, 0x2B},
        {SDL_SCANCODE_Z, 0x2C},
        {SDL_SCANCODE_M, 0x32},
        {SDL_SCANCODE_SLASH, 0x35},
        {SDL_SCANCODE_RSHIFT, 0x36},
        {SDL_SCANCODE_KP_MULTIPLY, 0x37},
        {SDL_SCANCODE_LALT, 0x38},
        {SDL_SCANCODE_SPACE, 0x39},
        {SDL_SCANCODE_CAPSLOCK, 0x3A},
        {SDL_SCANCODE_F1, 0x3B},
        {SDL_SCANCODE_F10, 0x44},
        {SDL_SCANCODE_NUMLOCKCLEAR, 0x45},
        {SDL_SCANCODE_SCROLLLOCK, 0x46},
        {SDL_SCANCODE_KP_7, 0x47},
        {SDL_SCANCODE_KP_MINUS, 0x4A},
        {SDL_SCANCODE_KP_PLUS, 0x4E},
        {SDL_SCANCODE_KP_0, 0x52},
        {SDL_SCANCODE_KP_PERIOD, 0x53},
        {SDL_SCANCODE_NONUSBACKSLASH, 0x56},
        {SDL_SCANCODE_F11, 0x57},
        {SDL_SCANCODE_F12, 0x58},
        // E0-prefixed keys.
        {SDL_SCANCODE_KP_ENTER, 0xE01C},
        {SDL_SCANCODE_RCTRL, 0xE01D},
        {SDL_SCANCODE_KP_DIVIDE, 0xE035},
        {SDL_SCANCODE_PRINTSCREEN, 0xE037},
        {SDL_SCANCODE_RALT, 0xE038},
        {SDL_SCANCODE_HOME, 0xE047},
        {SDL_SCANCODE_UP, 0xE048},
        {SDL_SCANCODE_PAGEUP, 0xE049},
        {SDL_SCANCODE_LEFT, 0xE04B},
        {SDL_SCANCODE_RIGHT, 0xE04D},
        {SDL_SCANCODE_END, 0xE04F},
        {SDL_SCANCODE_DOWN, 0xE050},
        {SDL_SCANCODE_PAGEDOWN, 0xE051},
        {SDL_SCANCODE_INSERT, 0xE052},
        {SDL_SCANCODE_DELETE, 0xE053},
        {SDL_SCANCODE_LGUI, 0xE05B},
        {SDL_SCANCODE_RGUI, 0xE05C},
        {SDL_SCANCODE_APPLICATION, 0xE05D},
        {SDL_SCANCODE_MUTE, 0xE020},
        {SDL_SCANCODE_VOLUMEUP, 0xE030},
    };
    for (const auto& [sdl, set1] : expected)
        EXPECT_EQ(sdlScancodeToSet1(sdl), set1) << SDL_GetScancodeName(sdl);
}

TEST(SdlKeymap, EveryLetterAndDigit) {
    // QWERTY rows in set 1 order.
    const char* rows[] = {"qwertyuiop", "asdfghjkl", "zxcvbnm"};
    const uint16_t starts[] = {0x10, 0x1E, 0x2C};
    for (int r = 0; r < 3; ++r)
        for (size_t i = 0; rows[r][i]; ++i) {
            SDL_Scancode sc = SDL_Scancode(SDL_SCANCODE_A + (rows[r][i] - 'a'));
            EXPECT_EQ(sdlScancodeToSet1(sc), starts[r] + i) << rows[r][i];
        }
    for (int d = 0; d < 9; ++d)
        EXPECT_EQ(sdlScancodeToSet1(SDL_Scancode(SDL_SCANCODE_1 + d)), 0x02 + d);
    for (int f = 0; f < 10; ++f)
        EXPECT_EQ(sdlScancodeToSet1(SDL_Scancode(SDL_SCANCODE_F1 + f)), 0x3B + f);
}

TEST(SdlKeymap, TableIsWellFormed) {
    auto table = sdlKeymap();
    ASSERT_GT(table.size(), 100u);
    std::map<uint16_t, std::set<int>> byCode;
    int previous = -1;
    for (const KeymapEntry& e : table) {
        EXPECT_GT(int(e.sdl), previous)
            << "table not in scancode order at " << SDL_GetScancodeName(e.sdl);
        previous = int(e.sdl);
        // A make code is 0x01..0x7F, or 0xE0 followed by one.
        uint16_t low = e.set1 & 0xFF, high = e.set1 >> 8;
        EXPECT_TRUE(high == 0 || high == 0xE0) << std::hex << e.set1;
        EXPECT_TRUE(low >= 0x01 && low < 0x80) << std::hex << e.set1;
        EXPECT_EQ(sdlScancodeToSet1(e.sdl), e.set1);
        byCode[e.set1].insert(int(e.sdl));
    }
    // Two positions share a code on purpose: the ISO '#' key is where ANSI's '\' is, and SDL
    // has two scancodes for Mute.
    for (const auto& [code, keys] : byCode) {
        if (code == 0x2B || code == 0xE020)
            EXPECT_EQ(keys.size(), 2u);
        else
            EXPECT_EQ(keys.size(), 1u) << "code 0x" << std::hex << code << " used twice";
    }
}

TEST(SdlKeymap, UnknownKeysSendNothing) {
    EXPECT_EQ(sdlScancodeToSet1(SDL_SCANCODE_UNKNOWN), 0);
    EXPECT_EQ(sdlScancodeToSet1(SDL_SCANCODE_F24), 0);
    EXPECT_EQ(sdlScancodeToSet1(SDL_SCANCODE_MODE), 0);
    EXPECT_EQ(sdlScancodeToSet1(-1), 0);
    EXPECT_EQ(sdlScancodeToSet1(SDL_NUM_SCANCODES), 0);
    EXPECT_EQ(sdlScancodeToSet1(100000), 0);
}

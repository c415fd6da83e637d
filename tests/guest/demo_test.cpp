// The guest software on the e2k-vm machine: the boot ROM boots the demo disk, the demo's frame
// after 2 virtual seconds matches the golden PNG pixel for pixel, key presses become disk
// records (seen by an enabled dirty bitmap of a qcow2 copy), and the ROM refuses bad disks.
// E2KVM_REBASELINE=1 rewrites the golden PNG instead of comparing.
#include "GuestDisks.h"
#include "GuestMachine.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/bitmap/DirtyBitmap.h"
#include "emu/display/Png.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kRecordMagic = 0x005359454B4B3245; // "E2KKEYS\0"

uint64_t u64At(const std::vector<uint8_t>& b, size_t off) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + off, 8);
    return v;
}

uint64_t programSectors() {
    return demoDiskImage().used.size() / 512 - 1;
}

void press(Machine& m, uint16_t code) {
    m.keyEvent(code, true);
    m.keyEvent(code, false);
}

} // namespace

TEST(GuestDemo, FrameAfterTwoSecondsMatchesGolden) {
    TempDir dir;
    GuestMachine g(E2KVM_GUEST_ROM, demoDisk(dir, "demo.raw"));
    g.runUntil(2 * kSecond);
    EXPECT_NE(g.serial().find("e2kvm boot ROM"), std::string::npos) << g.serial();
    EXPECT_NE(g.serial().find("e2kvm demo guest"), std::string::npos) << g.serial();
    auto frame = g.machine().display().latest();
    ASSERT_TRUE(frame);
    ASSERT_EQ(frame->width, 1024);
    ASSERT_EQ(frame->height, 768);

    const std::string golden = std::string(E2KVM_GUEST_GOLDEN_DIR) + "/demo-2s.png";
    const char* rebase = std::getenv("E2KVM_REBASELINE");
    if (rebase && std::string(rebase) == "1") {
        writePngFile(golden, *frame);
        GTEST_SKIP() << "rebaselined " << golden;
    }
    FrameImage want = readPngFile(golden);
    ASSERT_EQ(want.width, frame->width);
    ASSERT_EQ(want.height, frame->height);
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < want.pixels.size(); ++i)
        if ((frame->pixels[i] & 0xffffff) != want.pixels[i] && differ++ == 0)
            first = i;
    if (differ) {
        std::string actual = std::string(E2KVM_GUEST_OUTPUT_DIR) + "/demo-2s-actual.png";
        writePngFile(actual, *frame);
        ADD_FAILURE() << differ << " pixels differ from " << golden << ", first at ("
                      << first % 1024 << ", " << first / 1024 << "); actual frame: " << actual
                      << " (E2KVM_REBASELINE=1 accepts it)";
    }
}

TEST(GuestDemo, SameRunGivesTheSameFrame) {
    // Determinism, independent of the golden file: two machines, same picture at 0.75 s.
    TempDir dir;
    GuestMachine g1(E2KVM_GUEST_ROM, demoDisk(dir, "a.raw")),
        g2(E2KVM_GUEST_ROM, demoDisk(dir, "b.raw"));
    g1.runUntil(kSecond * 3 / 4);
    g2.runUntil(kSecond * 3 / 4);
    auto f1 = g1.machine().display().latest(), f2 = g2.machine().display().latest();
    ASSERT_TRUE(f1 && f2);
    EXPECT_EQ(f1->pixels, f2->pixels);
    EXPECT_EQ(g1.serial(), g2.serial());
}

TEST(GuestDemo, KeysBecomeRecordsSerialLinesAndDirtyBits) {
    TempDir dir;
    auto disk = demoDisk(dir, "demo.qcow2", "qcow2");
    ASSERT_NE(disk->bitmaps(), nullptr);
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = "backup";
    add.granularity = 512;
    disk->bitmaps()->apply(std::span(&add, 1));

    const uint64_t first = 1 + programSectors();
    {
        GuestMachine g(E2KVM_GUEST_ROM, disk);
        g.runUntil(kSecond / 2);
        EXPECT_NE(g.serial().find("records from sector " + std::to_string(first) + " (0 found)"),
                  std::string::npos)
            << g.serial();
        Machine& m = g.machine();
        press(m, 0x1E);         // a
        m.keyEvent(0x2A, true); // Shift
        press(m, 0x30);         // B
        m.keyEvent(0x2A, false);
        g.runUntil(kSecond / 2 + kSecond / 10);
        press(m, 0x1C);   // Enter
        press(m, 0xE04B); // cursor left (extended)
        g.runUntil(kSecond);
        const std::string& s = g.serial();
        EXPECT_NE(s.find("key 'a' scancode 0x1e -> record 1 at sector " + std::to_string(first)),
                  std::string::npos)
            << s;
        EXPECT_NE(s.find("key 'B' scancode 0x30 -> record 2"), std::string::npos) << s;
        EXPECT_NE(s.find("key <1c> scancode 0x1c -> record 3"), std::string::npos) << s;
        EXPECT_NE(
            s.find("key <e04b> scancode 0xe04b -> record 4 at sector " + std::to_string(first + 3)),
            std::string::npos)
            << s;
        EXPECT_EQ(s.find("record 5"), std::string::npos) << s; // releases and Shift write nothing
    }

    // The records on the disk.
    const uint16_t codes[] = {0x1E, 0x30, 0x1C, 0xE04B};
    const char chars[] = {'a', 'B', 0, 0};
    uint64_t lastTime = 0;
    for (int i = 0; i < 4; ++i) {
        std::vector<uint8_t> sec(512);
        disk->read((first + uint64_t(i)) * 512, sec);
        EXPECT_EQ(u64At(sec, 0), kRecordMagic) << "record " << i;
        EXPECT_EQ(u64At(sec, 8), uint64_t(i + 1));
        EXPECT_EQ(u64At(sec, 16), codes[i]);
        EXPECT_EQ(u64At(sec, 24), uint64_t(uint8_t(chars[i])));
        EXPECT_EQ(u64At(sec, 32), 1767225600u); // deterministic RTC: 2026-01-01, first second
        EXPECT_GE(u64At(sec, 48), lastTime);    // virtual time of the key press
        EXPECT_LT(u64At(sec, 48), kSecond);
        lastTime = u64At(sec, 48);
        std::string text(reinterpret_cast<const char*>(sec.data() + 56));
        EXPECT_EQ(text.rfind("key ", 0), 0u) << text;
    }
    std::vector<uint8_t> after(512);
    disk->read((first + 4) * 512, after);
    EXPECT_EQ(u64At(after, 0), 0u);

    // Exactly the four record sectors are dirty (the guest writes nothing else).
    auto bm = disk->bitmaps()->usable("backup");
    ASSERT_TRUE(bm);
    EXPECT_EQ(bm->dirtyGranules(), 4u);
    for (uint64_t i = 0; i < 4; ++i)
        EXPECT_TRUE(bm->test((first + i) * 512)) << i;
    EXPECT_FALSE(bm->test(0));
    EXPECT_FALSE(bm->test((first - 1) * 512));
    EXPECT_FALSE(bm->test((first + 4) * 512));

    // After a reboot the demo finds its records and goes on after them.
    GuestMachine again(E2KVM_GUEST_ROM, disk);
    again.runUntil(kSecond / 2);
    press(again.machine(), 0x1F); // s
    again.runUntil(kSecond);
    EXPECT_NE(again.serial().find("(4 found)"), std::string::npos) << again.serial();
    EXPECT_NE(again.serial().find("key 's' scancode 0x1f -> record 5 at sector " +
                                  std::to_string(first + 4)),
              std::string::npos)
        << again.serial();
    EXPECT_EQ(bm->dirtyGranules(), 5u);
}

namespace {

// Boots the ROM with `disk` (may be null) and expects it to print `message` and power off.
void expectRomRefuses(std::shared_ptr<block::BlockDriver> disk, const std::string& message) {
    GuestMachine g(E2KVM_GUEST_ROM, std::move(disk));
    try {
        g.runUntil(kSecond);
        ADD_FAILURE() << "the ROM did not power off; serial:\n" << g.serial();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("powered off"), std::string::npos) << e.what();
    }
    EXPECT_NE(g.serial().find(message), std::string::npos) << g.serial();
    EXPECT_NE(g.serial().find("ROM: powering off"), std::string::npos) << g.serial();
}

std::shared_ptr<block::BlockDriver> rawDisk(const TempDir& dir, const std::string& name,
                                            const std::vector<uint8_t>& header) {
    std::string path = dir.path + "/" + name;
    block::CreateOptions co;
    co.size = 1 << 20;
    co.sizeGiven = true;
    block::createImage(path, co);
    auto d = openRw(path);
    if (!header.empty())
        d->write(0, header);
    return d;
}

std::vector<uint8_t> header(uint64_t load, uint64_t sectors, uint64_t entry) {
    std::vector<uint8_t> h(512);
    std::memcpy(h.data(), "E2KBOOT", 8);
    std::memcpy(h.data() + 8, &load, 8);
    std::memcpy(h.data() + 16, &sectors, 8);
    std::memcpy(h.data() + 24, &entry, 8);
    return h;
}

} // namespace

TEST(GuestRom, NoDiskPowersOff) {
    expectRomRefuses(nullptr, "no bootable disk: no drives attached");
}

TEST(GuestRom, BlankDiskPowersOff) {
    TempDir dir;
    expectRomRefuses(rawDisk(dir, "blank.raw", {}), "no E2KBOOT header");
}

TEST(GuestRom, HostileHeadersPowerOff) {
    TempDir dir;
    const std::string bad = "boot header is invalid";
    // Load address inside the ROM area, zero sectors, more sectors than the disk, entry
    // outside the program, a program reaching into the stacks, a size that would wrap.
    expectRomRefuses(rawDisk(dir, "low.raw", header(0x1000, 1, 0x1000)), bad);
    expectRomRefuses(rawDisk(dir, "zero.raw", header(0x100000, 0, 0x100000)), bad);
    expectRomRefuses(rawDisk(dir, "long.raw", header(0x100000, 2048, 0x100000)), bad);
    expectRomRefuses(rawDisk(dir, "entry.raw", header(0x100000, 1, 0x100200)), bad);
    expectRomRefuses(rawDisk(dir, "unaligned.raw", header(0x100000, 1, 0x100004)), bad);
    expectRomRefuses(rawDisk(dir, "stacks.raw", header(64ull << 20, 1, 64ull << 20)), bad);
    expectRomRefuses(
        rawDisk(dir, "wrap.raw", header(0xfffffffffffff000ull, 1, 0xfffffffffffff000ull)), bad);
}

TEST(GuestRom, ProgramFaultIsReportedByTheRomTrapEntry) {
    // A boot program whose first bundle is an unallocated opcode (ALS0 opc 0x0D): the trap
    // goes to entry 0 (still the ROM), which reports it and powers off.
    TempDir dir;
    std::vector<uint8_t> disk = header(0x100000, 1, 0x100000);
    disk.resize(1024);
    const uint32_t words[] = {0x04000001, 0x0dc0c040};
    std::memcpy(disk.data() + 512, words, sizeof words);
    expectRomRefuses(rawDisk(dir, "fault.raw", disk), "ROM: unexpected trap, TIR.hi=0x");
    expectRomRefuses(rawDisk(dir, "fault2.raw", disk), " IP=0x000000100000");
}

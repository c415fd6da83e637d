// The demo guest's disk as QEMU sees it: after key presses on a qcow2 copy with a persistent
// dirty bitmap, qemu-img check finds no errors, qemu-img info lists the bitmap (saved, not
// in use) and qemu-io reads the guest's records.
#include "GuestDisks.h"
#include "GuestMachine.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <sys/wait.h>

using namespace e2kvm;
using namespace e2kvm::emu;
using namespace e2kvm::emu::test;

namespace {

struct Result {
    int status = -1;
    std::string out;
};

// Runs a shell command (with a timeout) and returns its exit status and output.
Result run(const std::string& cmd) {
    Result r;
    std::FILE* p = popen(("timeout 60 " + cmd + " 2>&1").c_str(), "r");
    if (!p)
        return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

bool haveQemu() {
    return run("qemu-img --version").status == 0 && run("qemu-io --version").status == 0;
}

} // namespace

TEST(GuestDemoInterop, QemuReadsTheRecordsAndTheBitmap) {
    if (!haveQemu())
        GTEST_SKIP() << "qemu-img / qemu-io not installed";
    TempDir dir;
    const std::string path = dir.path + "/demo.qcow2";
    const uint64_t first = demoDiskImage().used.size() / 512; // 1 + program sectors
    {
        auto disk = demoDisk(dir, "demo.qcow2", "qcow2");
        block::BitmapAction add;
        add.kind = block::BitmapActionKind::Add;
        add.name = "backup";
        add.granularity = 512;
        disk->bitmaps()->apply(std::span(&add, 1));
        GuestMachine g(E2KVM_GUEST_ROM, disk);
        g.runUntil(300'000'000);
        for (uint16_t code : {0x23, 0x17, 0x39}) { // h i space
            g.machine().keyEvent(code, true);
            g.machine().keyEvent(code, false);
        }
        g.runUntil(600'000'000);
        ASSERT_NE(g.serial().find("record 3"), std::string::npos) << g.serial();
        g.machine().flushDisks();
    } // machine and image closed: the bitmap is stored

    Result check = run("qemu-img check -f qcow2 " + path);
    EXPECT_EQ(check.status, 0) << check.out;
    EXPECT_NE(check.out.find("No errors"), std::string::npos) << check.out;

    Result info = run("qemu-img info --output=json " + path);
    ASSERT_EQ(info.status, 0) << info.out;
    EXPECT_NE(info.out.find("\"name\": \"backup\""), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("\"granularity\": 512"), std::string::npos) << info.out;
    EXPECT_EQ(info.out.find("in-use"), std::string::npos) << info.out;

    // Record 3 (space): magic, sequence 3, scancode 0x39, character ' '.
    Result rec = run("qemu-io -r -f qcow2 -c 'read -v " + std::to_string((first + 2) * 512) +
                     " 32' " + path);
    ASSERT_EQ(rec.status, 0) << rec.out;
    EXPECT_NE(rec.out.find("45 32 4b 4b 45 59 53 00 03 00 00 00 00 00 00 00"), std::string::npos)
        << rec.out;
    EXPECT_NE(rec.out.find("39 00 00 00 00 00 00 00 20 00 00 00 00 00 00 00"), std::string::npos)
        << rec.out;
}

// A raw image opened without a format keeps its first sector raw: writes, zero writes and
// discards that would make it probe as another format fail with EPERM and change nothing;
// other writes to it go through; with the format given as raw nothing is restricted. Also the
// header probe itself, for each format QEMU 7.2 can probe.
#include "block/HeaderProbe.h"
#include "block/HostFile.h"
#include "block/ImageOpen.h"
#include "block/RawImage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <latch>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace e2kvm::block;

namespace {

std::filesystem::path tempDir() {
    return std::filesystem::temp_directory_path() /
           ("e2kvm-probed-raw-test-" + std::to_string(getpid()));
}

std::string tempPath(const std::string& name) {
    std::filesystem::create_directories(tempDir());
    return (tempDir() / name).string();
}

// Removes this process's files when its tests are done.
class TempDirCleanup : public ::testing::Environment {
public:
    void TearDown() override { std::filesystem::remove_all(tempDir()); }
};
const auto* const cleanup = ::testing::AddGlobalTestEnvironment(new TempDirCleanup);

std::vector<uint8_t> sector(std::string_view start) {
    std::vector<uint8_t> s(512, 0);
    std::memcpy(s.data(), start.data(), start.size());
    return s;
}

std::vector<uint8_t> fileBytes(const std::string& path) {
    HostFile f(path, HostFile::Mode::ReadOnly);
    std::vector<uint8_t> bytes(f.size());
    f.read(0, bytes);
    return bytes;
}

std::string makeRaw(const std::string& name, uint64_t size = 1 << 20) {
    std::string path = tempPath(name);
    CreateOptions c;
    c.format = "raw";
    c.size = size;
    createImage(path, c);
    return path;
}

// The first sector of a real qcow2 image whose backing file is a host file.
std::vector<uint8_t> qcow2HeaderWithHostBacking() {
    std::string path = tempPath("header.qcow2");
    CreateOptions c;
    c.format = "qcow2";
    c.size = 1 << 20;
    c.sizeGiven = true;
    c.backingFile = "/etc/hostname";
    c.backingFormat = "raw";
    createImage(path, c);
    std::vector<uint8_t> bytes = fileBytes(path);
    bytes.resize(512);
    return bytes;
}

std::unique_ptr<BlockDriver> openProbed(const std::string& path) {
    OpenOptions o;
    o.readOnly = false;
    return openImage(path, o);
}

void expectEperm(const std::function<void()>& request) {
    try {
        request();
        ADD_FAILURE() << "the request went through";
    } catch (const BlockError& e) {
        EXPECT_EQ(e.errnoValue(), EPERM) << e.what();
    }
}

} // namespace

TEST(HeaderProbe, FormatsQemuProbes) {
    auto le32 = [](uint32_t v) {
        return std::string{char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
    };
    auto field = [](std::string_view text, size_t width) {
        std::string f(text);
        f.resize(width, '\0');
        return f;
    };
    const std::string bochs =
        field("Bochs Virtual HD Image", 32) + field("Redolog", 16) + field("Growing", 16);
    struct Case {
        std::string head;
        const char* format;
    };
    const Case cases[] = {
        {std::string("QFI\xfb\0\0\0\3", 8), "qcow2"},
        {std::string("QFI\xfb\0\0\0\2", 8), "qcow2"},
        {std::string("QFI\xfb\x80\0\0\0", 8), "qcow2"},
        {std::string("QFI\xfb\0\0\0\1", 8), "qcow"},
        {std::string("QFI\xfb\0\0\0\0", 8), "raw"},
        {std::string("QED\0", 4), "qed"},
        {std::string(64, 'x') + le32(0xbeda107f), "vdi"},
        {"conectix", "vpc"},
        {"vhdxfile", "vhdx"},
        {"KDMV", "vmdk"},
        {"COWD", "vmdk"},
        {"# Disk DescriptorFile\nversion=1\n", "vmdk"},
        {"#c\r\n   \r\nversion=3\r\n", "vmdk"},
        {"   \nversion=2\n", "vmdk"},
        {"version=4\n", "raw"},
        {"\nversion=1\n", "raw"},
        {"   x\nversion=2\n", "raw"},
        {bochs + le32(0x20000), "bochs"},
        {bochs + le32(0x10000), "bochs"},
        {bochs + le32(0x30000), "raw"},
        {"#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n",
         "cloop"},
        {"WithoutFreeSpace" + le32(2), "parallels"},
        {"WithouFreSpacExt" + le32(2), "parallels"},
        {"WithoutFreeSpace" + le32(3), "raw"},
        {std::string("LUKS\xba\xbe\0\1", 8), "luks"},
        {std::string("LUKS\xba\xbe\0\2", 8), "raw"},
        {"koly", "raw"},
        {"hello", "raw"},
    };
    for (const Case& c : cases)
        EXPECT_EQ(qemuProbe(sector(c.head)), c.format) << c.head;
    // A descriptor line at the very end of the sector counts only when whole.
    std::string tail = "#" + std::string(500, 'a') + "\nversion=1\n";
    EXPECT_EQ(qemuProbe(sector(tail)), "vmdk");
    tail = "#" + std::string(501, 'a') + "\nversion=1";
    EXPECT_EQ(qemuProbe(sector(tail)), "raw");
    // A qcow2 magic is qcow2 to our own open, whatever follows it.
    EXPECT_EQ(openProbe(sector(std::string("QFI\xfb\0\0\0\0", 8))), "qcow2");
    EXPECT_FALSE(probesAsRaw(sector(std::string("QFI\xfb\0\0\0\0", 8))));
    EXPECT_TRUE(probesAsRaw(sector("hello")));
    EXPECT_TRUE(probesAsRaw(std::vector<uint8_t>(512, 0)));
    EXPECT_EQ(qemuProbe({}), "raw");
}

TEST(ProbedRaw, HeaderWriteRefusedAndImageStaysRaw) {
    std::string path = makeRaw("header.raw");
    const std::vector<uint8_t> header = qcow2HeaderWithHostBacking();
    ASSERT_EQ(qemuProbe(header), "qcow2");
    auto before = fileBytes(path);
    {
        auto image = openProbed(path);
        ASSERT_EQ(image->formatName(), "raw");
        expectEperm([&] { image->write(0, header); });
        // Longer writes starting with the header are refused whole.
        std::vector<uint8_t> longer(header);
        longer.resize(8192, 0x77);
        expectEperm([&] { image->write(0, longer); });
        // Piece by piece: the magic alone, then the version after other bytes are in place.
        std::vector<uint8_t> rest(header.begin() + 4, header.end());
        image->write(4, rest);
        expectEperm([&] { image->write(0, std::span(header).first(4)); });
        image->flush();
    }
    auto after = fileBytes(path);
    EXPECT_EQ(probeFormat(path), "raw");
    EXPECT_TRUE(std::equal(after.begin() + 512, after.end(), before.begin() + 512));
    EXPECT_TRUE(probesAsRaw(std::span(after).first(512)));
    // Reopened without a format it is still raw, and still guarded.
    auto again = openProbed(path);
    EXPECT_EQ(again->formatName(), "raw");
    expectEperm([&] { again->write(0, header); });
}

TEST(ProbedRaw, OrdinaryWritesToTheFirstSectorGoThrough) {
    std::string path = makeRaw("ordinary.raw");
    auto image = openProbed(path);
    std::vector<uint8_t> data(4096, 0x51);
    image->write(0, data);
    std::vector<uint8_t> part{'a', 'b', 'c'};
    image->write(100, part);
    image->writeZeroes(0, 512);
    image->writeZeroes(16, 16, ZeroMayUnmap);
    image->discard(0, 4096);
    image->write(512, sector("QFI\xfb")); // the magic past the first sector is only data
    std::vector<uint8_t> back(1024);
    image->read(0, back);
    EXPECT_TRUE(std::all_of(back.begin(), back.begin() + 512, [](uint8_t b) { return b == 0; }));
    EXPECT_EQ(std::memcmp(back.data() + 512, "QFI\xfb", 4), 0);
}

TEST(ProbedRaw, ZeroWritesAndDiscardsThatWouldMakeAHeaderAreRefused) {
    // LUKS wants version 1 (big-endian) after its magic: version 0x0101 is raw, and zeroing
    // its high byte would make the sector a LUKS header.
    std::string path = makeRaw("zeroes.raw");
    auto image = openProbed(path);
    std::vector<uint8_t> almost = sector(std::string("LUKS\xba\xbe\x01\x01", 8));
    ASSERT_TRUE(probesAsRaw(almost));
    image->write(0, almost);
    expectEperm([&] { image->writeZeroes(6, 1); });
    expectEperm([&] { image->writeZeroes(6, 1, ZeroMayUnmap); });
    expectEperm([&] { image->discard(6, 1); });
    std::vector<uint8_t> back(8);
    image->read(0, back);
    EXPECT_EQ(std::memcmp(back.data(), "LUKS\xba\xbe\x01\x01", 8), 0);
    // Zeroing all of it is fine.
    image->writeZeroes(0, 512);
    image->write(0, almost);
    image->discard(0, 4096);
}

TEST(ProbedRaw, GivenRawFormatIsNotRestricted) {
    std::string path = makeRaw("given.raw");
    const std::vector<uint8_t> header = qcow2HeaderWithHostBacking();
    {
        OpenOptions o;
        o.format = "raw";
        o.readOnly = false;
        auto image = openImage(path, o);
        image->write(0, header);
    }
    EXPECT_EQ(probeFormat(path), "qcow2");
}

TEST(ProbedRaw, FormatProbedByTheCallerIsStillProbed) {
    // As BlockNodeTable and e2kvm-img do: probe first, then open with that format.
    std::string path = makeRaw("caller.raw");
    OpenOptions o;
    o.format = probeFormat(path);
    o.formatProbed = true;
    o.readOnly = false;
    auto image = openImage(path, o);
    ASSERT_EQ(image->formatName(), "raw");
    EXPECT_TRUE(dynamic_cast<RawImage&>(*image).formatProbed());
    expectEperm([&] { image->write(0, qcow2HeaderWithHostBacking()); });
}

TEST(ProbedRaw, ShortFileIsCheckedAsItWillRead) {
    // A 100-byte file: the header's fields past its end still land in the first sector.
    std::string path = makeRaw("short.raw", 100);
    auto image = openProbed(path);
    ASSERT_EQ(image->size(), 512u);
    expectEperm([&] { image->write(0, qcow2HeaderWithHostBacking()); });
    EXPECT_EQ(fileBytes(path), std::vector<uint8_t>(100, 0));
}

TEST(ProbedRaw, ConcurrentHalvesCannotMakeAHeader) {
    // Two writers each put half of a qcow2 magic in front of a version field: each half alone
    // leaves the sector raw, both together do not, so one of them must be refused.
    std::string path = makeRaw("race.raw");
    std::vector<uint8_t> first = sector(std::string("\0\0\0\0\0\0\0\3", 8));
    auto image = openProbed(path);
    image->write(0, first);
    const std::vector<uint8_t> qf{'Q', 'F'}, ifb{'I', 0xfb};
    for (int round = 0; round < 2000; ++round) {
        image->writeZeroes(0, 4);
        std::latch start(2);
        auto attempt = [&](uint64_t offset, const std::vector<uint8_t>& bytes, int& refused) {
            start.arrive_and_wait();
            try {
                image->write(offset, bytes);
            } catch (const BlockError& e) {
                refused = e.errnoValue() == EPERM ? 1 : 100;
            }
        };
        int a = 0, b = 0;
        std::thread t1(attempt, 0, std::cref(qf), std::ref(a));
        std::thread t2(attempt, 2, std::cref(ifb), std::ref(b));
        t1.join();
        t2.join();
        ASSERT_EQ(a + b, 1) << "round " << round;
        std::vector<uint8_t> now(512);
        image->read(0, now);
        ASSERT_TRUE(probesAsRaw(now)) << "round " << round;
    }
}

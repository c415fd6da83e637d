#include "HeaderProbe.h"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace e2kvm::block {

namespace {

using Bytes = std::span<const uint8_t>;

// Whether `head` holds `text` at `offset` (all of it).
bool holds(Bytes head, size_t offset, std::string_view text) {
    return head.size() >= offset + text.size() &&
           std::memcmp(head.data() + offset, text.data(), text.size()) == 0;
}

// Whether `head` holds the C string `text` at `offset`: its characters, then a NUL.
bool holdsCString(Bytes head, size_t offset, std::string_view text) {
    return holds(head, offset, text) && head.size() > offset + text.size() &&
           head[offset + text.size()] == 0;
}

uint32_t be32(Bytes head, size_t offset) {
    return uint32_t(head[offset]) << 24 | uint32_t(head[offset + 1]) << 16 |
           uint32_t(head[offset + 2]) << 8 | uint32_t(head[offset + 3]);
}

uint32_t le32(Bytes head, size_t offset) {
    return uint32_t(head[offset]) | uint32_t(head[offset + 1]) << 8 |
           uint32_t(head[offset + 2]) << 16 | uint32_t(head[offset + 3]) << 24;
}

uint16_t be16(Bytes head, size_t offset) {
    return uint16_t(head[offset] << 8 | head[offset + 1]);
}

constexpr std::string_view kQcowMagic("QFI\xfb", 4);

// qcow2 and qcow (version 1) share the magic; QEMU wants the whole fixed header present
// (104 bytes for qcow2, 48 for qcow).
bool isQcow2(Bytes h) {
    return h.size() >= 104 && holds(h, 0, kQcowMagic) && be32(h, 4) >= 2;
}
bool isQcow(Bytes h) {
    return h.size() >= 48 && holds(h, 0, kQcowMagic) && be32(h, 4) == 1;
}
// QED: little-endian magic "QED\0", 64-byte header.
bool isQed(Bytes h) {
    return h.size() >= 64 && holds(h, 0, std::string_view("QED\0", 4));
}
// VDI: a 512-byte header whose signature 0xbeda107f (little-endian) follows 64 bytes of text.
bool isVdi(Bytes h) {
    return h.size() >= 512 && le32(h, 64) == 0xbeda107f;
}
// VHD (QEMU's vpc) and VHDX: an 8-byte cookie.
bool isVpc(Bytes h) {
    return holds(h, 0, "conectix");
}
bool isVhdx(Bytes h) {
    return holds(h, 0, "vhdxfile");
}

// A VMDK descriptor as text: comment lines ('#' to the end of the line) and lines of spaces
// (with an optional '\r') may come first; the first other line must be "version=1", 2 or 3,
// ended by "\n" or "\r\n".
bool isVmdkDescriptor(Bytes h) {
    size_t p = 0;
    const size_t end = h.size();
    while (p < end) {
        if (h[p] == '#') {
            while (p < end && h[p] != '\n')
                ++p;
            ++p;
            continue;
        }
        if (h[p] == ' ') {
            while (p < end && h[p] == ' ')
                ++p;
            if (p < end && h[p] == '\r')
                ++p;
            if (p == end || h[p] != '\n')
                return false;
            ++p;
            continue;
        }
        for (char v : {'1', '2', '3'}) {
            std::string line = std::string("version=") + v;
            if (holds(h, p, line + "\n") || holds(h, p, line + "\r\n"))
                return true;
        }
        return false;
    }
    return false;
}
// VMDK: a sparse extent's magic ("KDMV", or "COWD" for the ESX 3 kind), or a descriptor.
bool isVmdk(Bytes h) {
    if (h.size() < 4)
        return false;
    return holds(h, 0, "KDMV") || holds(h, 0, "COWD") || isVmdkDescriptor(h);
}
// Bochs growing redolog, versions 1 and 2: three C strings in fixed fields, then the version.
bool isBochs(Bytes h) {
    if (h.size() < 512)
        return false;
    uint32_t version = le32(h, 64);
    return holdsCString(h, 0, "Bochs Virtual HD Image") && holdsCString(h, 32, "Redolog") &&
           holdsCString(h, 48, "Growing") && (version == 0x00020000 || version == 0x00010000);
}
// cloop 2.0: a shell script line. QEMU compares as much of it as the probed bytes hold.
bool isCloop(Bytes h) {
    constexpr std::string_view script = "#!/bin/sh\n"
                                        "#V2.0 Format\n"
                                        "modprobe cloop file=$0 && mount -r -t iso9660 "
                                        "/dev/cloop $1\n";
    size_t n = std::min(script.size(), h.size());
    return std::memcmp(h.data(), script.data(), n) == 0;
}
// Parallels: one of two 16-byte magics, then version 2 (little-endian), in a 64-byte header.
bool isParallels(Bytes h) {
    return h.size() >= 64 && (holds(h, 0, "WithoutFreeSpace") || holds(h, 0, "WithouFreSpacExt")) &&
           le32(h, 16) == 2;
}
// LUKS version 1: magic "LUKS\xba\xbe", then the version (big-endian).
bool isLuks(Bytes h) {
    return h.size() >= 8 && holds(h, 0, std::string_view("LUKS\xba\xbe", 6)) && be16(h, 6) == 1;
}

} // namespace

std::string openProbe(std::span<const uint8_t> head) {
    return holds(head, 0, kQcowMagic) ? "qcow2" : "raw";
}

std::string qemuProbe(std::span<const uint8_t> head) {
    // An empty file is raw without asking the formats (QEMU does not probe it).
    if (head.empty())
        return "raw";
    head = head.first(std::min(head.size(), kProbeBytes));
    struct Candidate {
        const char* name;
        bool (*claims)(Bytes);
    };
    static constexpr Candidate candidates[] = {
        {"qcow2", isQcow2}, {"qcow", isQcow},           {"qed", isQed},   {"vdi", isVdi},
        {"vpc", isVpc},     {"vhdx", isVhdx},           {"vmdk", isVmdk}, {"bochs", isBochs},
        {"cloop", isCloop}, {"parallels", isParallels}, {"luks", isLuks},
    };
    for (const Candidate& c : candidates)
        if (c.claims(head))
            return c.name;
    return "raw";
}

bool probesAsRaw(std::span<const uint8_t> head) {
    return openProbe(head) == "raw" && qemuProbe(head) == "raw";
}

} // namespace e2kvm::block

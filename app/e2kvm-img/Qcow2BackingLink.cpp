#include "Qcow2BackingLink.h"

#include "block/BlockError.h"
#include "block/HostFile.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace e2kvm::img {

namespace {

// Header layout (qcow2 specification).
constexpr size_t kBackingOffsetField = 8;          // u64
constexpr size_t kBackingSizeField = 16;           // u32
constexpr size_t kClusterBitsField = 20;           // u32
constexpr size_t kVersion3HeaderLengthField = 100; // u32
constexpr size_t kVersion2HeaderLength = 72;
constexpr uint32_t kEndOfExtensions = 0;
constexpr uint32_t kBackingFormatExtension = 0xe2792aca;
constexpr uint32_t kMaxBackingName = 1023;

uint32_t get32(const std::vector<uint8_t>& b, size_t at) {
    return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        b[at + size_t(i)] = uint8_t(v >> (24 - 8 * i));
}

void put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        b[at + size_t(i)] = uint8_t(v >> (56 - 8 * i));
}

void append32(std::vector<uint8_t>& out, uint32_t v) {
    out.resize(out.size() + 4);
    put32(out, out.size() - 4, v);
}

} // namespace

void rewriteQcow2BackingLink(const std::string& path, const std::string& name,
                             const std::string& format) {
    using block::throwError;
    block::HostFile file(path, block::HostFile::Mode::ReadWrite);
    std::vector<uint8_t> head(kVersion3HeaderLengthField + 4);
    file.readExact(0, head, "qcow2 header");
    if (head[0] != 'Q' || head[1] != 'F' || head[2] != 'I' || head[3] != 0xfb)
        throwError(EINVAL, path, "Image is not in qcow2 format");
    uint32_t version = get32(head, 4);
    uint32_t clusterBits = get32(head, kClusterBitsField);
    if (clusterBits < 9 || clusterBits > 21)
        throwError(EINVAL, path, "Unsupported cluster size: 2^" + std::to_string(clusterBits));
    size_t cluster = size_t(1) << clusterBits;
    if (name.size() > kMaxBackingName)
        throwError(EINVAL, path, "Backing file name too long");

    std::vector<uint8_t> header(cluster);
    file.read(0, header);
    size_t headerLength =
        version >= 3 ? get32(header, kVersion3HeaderLengthField) : kVersion2HeaderLength;
    if (headerLength < kVersion2HeaderLength || headerLength > cluster)
        throwError(EINVAL, path, "Invalid header length " + std::to_string(headerLength));

    // Keep every extension except the backing format; add the new one first.
    std::vector<uint8_t> extensions;
    if (!name.empty() && !format.empty()) {
        append32(extensions, kBackingFormatExtension);
        append32(extensions, uint32_t(format.size()));
        extensions.insert(extensions.end(), format.begin(), format.end());
        extensions.resize((extensions.size() + 7) & ~size_t(7));
    }
    size_t at = headerLength;
    for (;;) {
        if (at + 8 > cluster)
            throwError(EINVAL, path, "Header extensions run past the first cluster");
        uint32_t type = get32(header, at);
        uint32_t length = get32(header, at + 4);
        if (type == kEndOfExtensions)
            break;
        size_t padded = (size_t(length) + 7) & ~size_t(7);
        if (padded > cluster - at - 8)
            throwError(EINVAL, path,
                       "Header extension at " + std::to_string(at) +
                           " runs past the first cluster");
        if (type != kBackingFormatExtension)
            extensions.insert(extensions.end(), header.begin() + long(at),
                              header.begin() + long(at + 8 + padded));
        at += 8 + padded;
    }
    append32(extensions, kEndOfExtensions);
    append32(extensions, 0);

    size_t nameOffset = headerLength + extensions.size();
    if (nameOffset + name.size() > cluster)
        throwError(ENOSPC, path,
                   "Backing file name and header extensions do not fit in the "
                   "first cluster");
    std::fill(header.begin() + long(headerLength), header.end(), 0);
    std::copy(extensions.begin(), extensions.end(), header.begin() + long(headerLength));
    std::copy(name.begin(), name.end(), header.begin() + long(nameOffset));
    put64(header, kBackingOffsetField, name.empty() ? 0 : nameOffset);
    put32(header, kBackingSizeField, uint32_t(name.size()));
    // One write of the whole header cluster.
    file.write(0, header);
    file.sync();
}

} // namespace e2kvm::img

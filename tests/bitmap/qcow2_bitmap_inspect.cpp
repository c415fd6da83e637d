// qcow2_bitmap_inspect: a test tool that reads the persistent bitmaps of a qcow2 file with
// our codec and DirtyBitmap, checks that re-encoding the extension, directory, tables and data
// gives back the file's bytes exactly, and prints each bitmap's dirty extents as JSON lines.
//   qcow2_bitmap_inspect IMAGE
//   qcow2_bitmap_inspect IMAGE --edit NAME NEWNAME FLAGS   (rewrite one entry in place)
#include "block/BlockError.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/bitmap/DirtyExtents.h"
#include "block/bitmap/Qcow2BitmapDirectory.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace e2kvm::block;

namespace {

struct Image {
    std::string path;
    std::fstream file;
    uint64_t fileSize = 0;

    std::vector<uint8_t> read(uint64_t offset, uint64_t length) {
        if (offset > fileSize || length > fileSize - offset)
            throw BlockError(EINVAL, path + ": read of " + std::to_string(length) + " at " +
                                         std::to_string(offset) + " is past end of file");
        std::vector<uint8_t> out(length);
        file.seekg(static_cast<std::streamoff>(offset));
        file.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(length));
        if (!file)
            throw BlockError(EIO, path + ": read failed");
        return out;
    }
    void write(uint64_t offset, const std::vector<uint8_t>& bytes) {
        file.seekp(static_cast<std::streamoff>(offset));
        file.write(reinterpret_cast<const char*>(bytes.data()),
                   static_cast<std::streamsize>(bytes.size()));
        file.flush();
        if (!file)
            throw BlockError(EIO, path + ": write failed");
    }
};

uint64_t be(const std::vector<uint8_t>& b, size_t at, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i)
        v = (v << 8) | b.at(at + i);
    return v;
}

void expectSame(const std::vector<uint8_t>& ours, const std::vector<uint8_t>& file,
                const std::string& what) {
    if (ours == file)
        return;
    size_t i = 0;
    while (i < ours.size() && i < file.size() && ours[i] == file[i])
        ++i;
    throw BlockError(EIO, "re-encoded " + what + " differs from the file at byte " +
                              std::to_string(i) + " (ours " + std::to_string(ours.size()) +
                              " bytes, file " + std::to_string(file.size()) + ")");
}

std::string jsonString(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

int run(int argc, char** argv) {
    if (argc != 2 && !(argc == 6 && std::strcmp(argv[2], "--edit") == 0)) {
        std::cerr << "usage: qcow2_bitmap_inspect IMAGE [--edit NAME NEWNAME FLAGS]\n";
        return 2;
    }
    Image img;
    img.path = argv[1];
    img.file.open(img.path, std::ios::in | std::ios::out | std::ios::binary);
    if (!img.file)
        throw BlockError(ENOENT, img.path + ": cannot open");
    img.file.seekg(0, std::ios::end);
    img.fileSize = static_cast<uint64_t>(img.file.tellg());

    auto header = img.read(0, 104);
    if (be(header, 0, 4) != 0x514649fb || be(header, 4, 4) != 3)
        throw BlockError(EINVAL, img.path + ": not a qcow2 v3 image");
    unsigned clusterBits = static_cast<unsigned>(be(header, 20, 4));
    if (clusterBits < 9 || clusterBits > 21)
        throw BlockError(EINVAL, img.path + ": bad cluster_bits");
    Qcow2BitmapImageGeometry geo{1u << clusterBits, be(header, 24, 8), img.fileSize};
    uint64_t headerLength = be(header, 100, 4);
    bool autoclearBitmaps = be(header, 88, 8) & 1;

    // Walk the header extensions in cluster 0.
    uint64_t pos = headerLength;
    uint64_t extAt = 0;
    std::vector<uint8_t> extBytes;
    while (pos + 8 <= geo.clusterSize) {
        auto h = img.read(pos, 8);
        uint32_t type = static_cast<uint32_t>(be(h, 0, 4));
        uint32_t len = static_cast<uint32_t>(be(h, 4, 4));
        if (type == 0)
            break;
        if (len > geo.clusterSize - pos - 8)
            throw BlockError(EINVAL, img.path + ": header extension runs past cluster 0");
        if (type == kQcow2BitmapsExtensionType) {
            extAt = pos + 8;
            extBytes = img.read(extAt, len);
        }
        pos += 8 + ((len + 7) & ~7u);
    }
    std::cout << "{\"autoclear_bitmaps\": " << (autoclearBitmaps ? "true" : "false")
              << ", \"has_extension\": " << (extBytes.empty() ? "false" : "true") << "}\n";
    if (extBytes.empty())
        return 0;

    auto ext = parseQcow2BitmapsExtension(extBytes, geo, img.path);
    auto extOurs = serializeQcow2BitmapsExtension(ext);
    expectSame({extOurs.begin(), extOurs.end()}, extBytes, "bitmaps extension");
    auto dirBytes = img.read(ext.directoryOffset, ext.directorySize);
    auto entries = parseQcow2BitmapDirectory(dirBytes, ext, geo, img.path);
    expectSame(serializeQcow2BitmapDirectory(entries, img.path), dirBytes, "bitmap directory");
    auto extAgain = makeQcow2BitmapsExtension(entries, ext.directoryOffset);
    if (!(extAgain == ext))
        throw BlockError(EIO, "extension computed from the entries differs from the file");

    if (argc == 6) {
        bool found = false;
        for (auto& e : entries) {
            if (e.name == argv[3]) {
                e.name = argv[4];
                e.flags = static_cast<uint32_t>(std::stoul(argv[5], nullptr, 0));
                found = true;
            }
        }
        if (!found)
            throw BlockError(ENOENT, std::string("no bitmap named ") + argv[3]);
        auto newDir = serializeQcow2BitmapDirectory(entries, img.path);
        uint64_t room =
            (ext.directorySize + geo.clusterSize - 1) / geo.clusterSize * geo.clusterSize;
        if (newDir.size() > room)
            throw BlockError(ENOSPC, "new directory does not fit the old one's clusters");
        auto newExt = makeQcow2BitmapsExtension(entries, ext.directoryOffset);
        img.write(ext.directoryOffset, newDir);
        auto newExtBytes = serializeQcow2BitmapsExtension(newExt);
        img.write(extAt, {newExtBytes.begin(), newExtBytes.end()});
        std::cout << "{\"edited\": true}\n";
        return 0;
    }

    for (const auto& e : entries) {
        std::cout << "{\"name\": " << jsonString(e.name) << ", \"granularity\": " << e.granularity()
                  << ", \"in_use\": " << (e.inUse() ? "true" : "false")
                  << ", \"auto\": " << (e.autoEnabled() ? "true" : "false")
                  << ", \"table_size\": " << e.tableSize;
        if (e.inUse()) { // QEMU does not read the data of an inconsistent bitmap
            std::cout << "}\n";
            continue;
        }
        auto tableBytes = img.read(e.tableOffset, uint64_t{e.tableSize} * 8);
        auto table = parseQcow2BitmapTable(tableBytes, geo, img.path, e.name);
        expectSame(serializeQcow2BitmapTable(table), tableBytes, "bitmap table of " + e.name);
        DirtyBitmap bitmap(geo.diskSize, e.granularity());
        uint64_t dataSize = bitmap.serializedSize();
        uint64_t zeroEntries = 0, dataEntries = 0;
        for (uint64_t i = 0; i < table.size(); ++i) {
            uint64_t start = i * geo.clusterSize;
            if (start >= dataSize)
                break;
            uint64_t n = std::min<uint64_t>(geo.clusterSize, dataSize - start);
            if (table[i].dataOffset) {
                auto data = img.read(table[i].dataOffset, n);
                bitmap.deserialize(start, data);
                std::vector<uint8_t> back(n);
                bitmap.serialize(start, back);
                expectSame(back, data, "data cluster " + std::to_string(i) + " of " + e.name);
                ++dataEntries;
            } else if (table[i].allOnes) {
                bitmap.deserialize(start, std::vector<uint8_t>(n, 0xff));
            } else {
                if (!bitmap.serializedRangeIsZero(start, n))
                    throw BlockError(EIO, "zero table entry reads back non-zero");
                ++zeroEntries;
            }
        }
        std::cout << ", \"data_clusters\": " << dataEntries
                  << ", \"zero_clusters\": " << zeroEntries
                  << ", \"dirty_bytes\": " << bitmap.dirtyBytes() << ", \"extents\": [";
        bool first = true;
        for (const auto& x : dirtyExtents(bitmap, 0, geo.diskSize)) {
            std::cout << (first ? "" : ", ") << "[" << x.offset << ", " << x.length << ", "
                      << (x.dirty ? "true" : "false") << "]";
            first = false;
        }
        std::cout << "]}\n";
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "qcow2_bitmap_inspect: " << e.what() << "\n";
        return 1;
    }
}

#pragma once
// Test fixtures for the panel tests: qcow2 images with dirty bitmaps in a temporary directory.
#include "block/BlockDriver.h"
#include "block/HostFile.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <QByteArray>
#include <QFile>
#include <QString>
#include <QTemporaryDir>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace e2kvm::test {

// Creates a qcow2 of `size` bytes at `path` with one persistent enabled bitmap `bitmap` (64 KiB
// granularity), then writes 0x5a to each (offset, length) so the bitmap records them, and closes
// it (bitmaps are saved on close).
inline void makeQcow2WithBitmap(const std::string& path, uint64_t size, const std::string& bitmap,
                                const std::vector<std::pair<uint64_t, uint64_t>>& writes) {
    block::CreateOptions c;
    c.format = "qcow2";
    c.size = size;
    c.sizeGiven = true;
    block::createImage(path, c);
    block::OpenOptions o;
    o.format = "qcow2";
    o.readOnly = false;
    auto image = block::openImage(path, o);
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = bitmap;
    add.granularity = 65536;
    image->bitmaps()->apply(std::span<const block::BitmapAction>(&add, 1));
    for (auto [off, len] : writes) {
        std::vector<uint8_t> data(len, 0x5a);
        image->write(off, data);
    }
    image->flush();
    image->bitmaps()->saveForClose();
}

// The whole file, or nothing if it cannot be read.
inline QByteArray fileBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readAll();
}

// Sets the qcow2 dirty bit (incompatible feature bit 0, the last byte of the big-endian field
// at offset 72), as a process that crashed with lazy refcounts leaves it.
inline void setDirtyBit(const QString& path) {
    block::HostFile f(path.toStdString(), block::HostFile::Mode::ReadWrite);
    uint8_t last = 0;
    f.read(79, std::span(&last, 1));
    last |= 1;
    f.write(79, std::span<const uint8_t>(&last, 1));
    f.sync();
}

// What a writable open and close does to a copy of `path` (at `scratch`): the looking tests'
// images must be ones it changes, or those tests prove nothing.
inline bool writableOpenChanges(const QString& path, const QString& scratch) {
    QFile::remove(scratch);
    if (!QFile::copy(path, scratch))
        return false;
    const QByteArray before = fileBytes(scratch);
    {
        block::OpenOptions o;
        o.readOnly = false;
        auto image = block::openImage(scratch.toStdString(), o);
    }
    return fileBytes(scratch) != before;
}

} // namespace e2kvm::test

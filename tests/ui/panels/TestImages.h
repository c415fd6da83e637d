#pragma once
// Test fixtures for the panel tests: qcow2 images with dirty bitmaps in a temporary directory.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <QTemporaryDir>

#include <cstdint>
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

} // namespace e2kvm::test

#include "ui/panels/BitmapCellMap.h"

#include "block/bitmap/DirtyBitmap.h"

#include <algorithm>

namespace e2kvm::ui {

uint64_t BitmapCellMap::cellBytesToFit(uint64_t diskSize, uint64_t granularity, size_t cells) {
    if (cells == 0)
        cells = 1;
    uint64_t cell = std::max<uint64_t>(granularity, 1);
    // cell <= 2^63 always ends the loop: a disk is at most 2^63 bytes.
    while ((diskSize + cell - 1) / cell > cells && cell < (uint64_t{1} << 62))
        cell <<= 1;
    return cell;
}

BitmapCellMap BitmapCellMap::compute(const block::DirtyBitmap& bitmap, uint64_t cellBytes,
                                     size_t maxCells) {
    BitmapCellMap m;
    m.diskSize_ = bitmap.diskSize();
    m.granularity_ = bitmap.granularity();
    uint64_t g = m.granularity_;
    uint64_t cell = std::max<uint64_t>(cellBytes, g);
    cell = (cell + g - 1) / g * g;
    uint64_t fit = cellBytesToFit(m.diskSize_, g, maxCells);
    m.cellBytes_ = std::max(cell, fit);
    const uint64_t cb = m.cellBytes_;
    m.dirty_.assign(size_t((m.diskSize_ + cb - 1) / cb), 0);
    uint64_t pos = 0;
    while (pos < m.diskSize_) {
        auto runs = bitmap.extents(pos, m.diskSize_ - pos, 4096);
        if (runs.empty())
            break;
        for (const block::DirtyExtent& e : runs) {
            pos = e.offset + e.length;
            if (!e.dirty)
                continue;
            ++m.runs_;
            m.totalDirty_ += e.length;
            uint64_t a = e.offset, b = e.offset + e.length;
            size_t first = size_t(a / cb), last = size_t((b - 1) / cb);
            if (first == last) {
                m.dirty_[first] += b - a;
                continue;
            }
            m.dirty_[first] += (first + 1) * cb - a;
            for (size_t i = first + 1; i < last; ++i)
                m.dirty_[i] = cb;
            m.dirty_[last] += b - uint64_t(last) * cb;
        }
    }
    return m;
}

uint64_t BitmapCellMap::cellLength(size_t cell) const {
    uint64_t start = cell * cellBytes_;
    return std::min(cellBytes_, diskSize_ - start);
}

double BitmapCellMap::cellFraction(size_t cell) const {
    uint64_t len = cellLength(cell);
    return len ? double(dirty_[cell]) / double(len) : 0.0;
}

} // namespace e2kvm::ui

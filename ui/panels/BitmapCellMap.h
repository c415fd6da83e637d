#pragma once
// BitmapCellMap: a dirty bitmap summarised as equal cells of the disk (the last one may be
// shorter), with the dirty bytes of each cell. Built from the bitmap's dirty runs, so the cost
// is O(dirty extents + cells), never O(disk granules).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace e2kvm::block {
class DirtyBitmap;
}

namespace e2kvm::ui {

class BitmapCellMap {
public:
    BitmapCellMap() = default;
    // cellBytes is rounded up to a multiple of the granularity and raised until at most
    // maxCells cells cover the disk.
    static BitmapCellMap compute(const block::DirtyBitmap& bitmap, uint64_t cellBytes,
                                 size_t maxCells);
    // The smallest granularity*2^k cell size that shows the disk in at most `cells` cells.
    static uint64_t cellBytesToFit(uint64_t diskSize, uint64_t granularity, size_t cells);

    uint64_t diskSize() const { return diskSize_; }
    uint64_t granularity() const { return granularity_; }
    uint64_t cellBytes() const { return cellBytes_; }
    size_t cellCount() const { return dirty_.size(); }
    uint64_t cellStart(size_t cell) const { return cell * cellBytes_; }
    uint64_t cellLength(size_t cell) const;
    uint64_t cellDirtyBytes(size_t cell) const { return dirty_[cell]; }
    // Dirty share of the cell, 0..1.
    double cellFraction(size_t cell) const;
    uint64_t dirtyBytes() const { return totalDirty_; }
    uint64_t dirtyRuns() const { return runs_; }

    bool operator==(const BitmapCellMap&) const = default;

private:
    uint64_t diskSize_ = 0;
    uint64_t granularity_ = 0;
    uint64_t cellBytes_ = 1;
    uint64_t totalDirty_ = 0;
    uint64_t runs_ = 0;
    std::vector<uint64_t> dirty_;
};

} // namespace e2kvm::ui

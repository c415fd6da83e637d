#pragma once
// copyImage: copies the contents of one image (through its backing chain) into another: the
// engine of `e2kvm-img convert` and of the GUI's convert and clone. Holes and zero runs are
// skipped or written as zeroes; several worker threads read and write large chunks at once.
#include "block/BlockDriver.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace e2kvm::block {

// A write to the target that failed during copyImage: the driver's error (its errno and
// message) and the target offset of the request, which qemu-img convert reports.
class CopyWriteError : public BlockError {
public:
    CopyWriteError(const BlockError& cause, uint64_t offset)
        : BlockError(cause.errnoValue(), cause.what()), offset_(offset) {}
    uint64_t offset() const { return offset_; }

private:
    uint64_t offset_;
};

// One step of qemu-img convert's progress: the source range [end - length, end) it copies.
struct ProgressStep {
    uint64_t end;
    uint64_t length;
};

struct CopySettings {
    // The target already reads as zero everywhere (freshly created, no backing file): zero
    // ranges of the source need no write at all.
    bool targetReadsZero = true;
    // Zero runs at least this long (aligned to it) inside data are not written as data; 0 makes
    // the output fully allocated.
    uint64_t minSparse = 4096;
    // Data ranges are copied as they are, without looking for zeros inside them (qemu-img
    // convert -C, copy offloading); zero ranges stay sparse.
    bool copyDataAsIs = false;
    // Write every target cluster compressed (qcow2 targets).
    bool compress = false;
    unsigned workers = 4;
    // Target writes happen in guest-offset order (keeps a qcow2 target's clusters in order).
    bool orderedWrites = false;
    // The target has a backing file that holds what the source's backing chain holds (qemu-img
    // convert -B): only what the source's top layer allocates is written, the rest shows
    // through. Use with targetReadsZero = false.
    bool topLayerOnly = false;
    // When set (convertProgressSteps), the copy's `advance` is told the lengths of these steps,
    // in order, each as the chunk holding its end is taken up (qemu-img counts a piece as it
    // starts copying it), instead of the length of each chunk when it is done.
    const std::vector<ProgressStep>* progressSteps = nullptr;
    // Salvaging (qemu-img convert --salvage): a failed block-status query is retried on ever
    // shorter ranges down to one sector, which is then copied as data; a failed read is
    // retried sector by sector and unreadable sectors are written as zeroes. Each such
    // failure is told to `warn` ("error while reading ... at offset N: <errno text>"). Before
    // copying, the status of the whole source is walked once, as qemu-img counts what it
    // will copy (its warnings come then too). Use with one worker, for a stable order.
    bool salvage = false;
    std::function<void(const std::string& message)> warn;
};

// Called from the worker threads with the bytes of source just finished (any thread; calls
// never overlap). It may throw to stop the copy: the exception comes out of copyImage.
using CopyAdvance = std::function<void(uint64_t bytes)>;

// Copies [0, source.size()) of `source` to the same offsets of `target`. Throws the first
// error of any worker (BlockError with the image's name) after all workers stopped.
void copyImage(BlockDriver& source, BlockDriver& target, const CopySettings& settings,
               const CopyAdvance& advance = {});

// qemu-img convert -p's steps over `source`: the ranges it copies as data (zero ranges too
// when minSparse is 0; with topLayerOnly only what the top layer allocates), each cut into
// pieces of at most 2 MiB from its start; compressed, pieces of one target cluster
// (`targetCluster`), a range shorter than that counted as a whole cluster of data. Their
// lengths add up to the total of its progress.
std::vector<ProgressStep> convertProgressSteps(BlockDriver& source, const CopySettings& settings,
                                               uint64_t targetCluster);

// True if the buffer holds only zero bytes.
bool isAllZero(const uint8_t* data, size_t length);

} // namespace e2kvm::block

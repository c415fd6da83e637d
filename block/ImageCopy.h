#pragma once
// copyImage: copies the contents of one image (through its backing chain) into another: the
// engine of `e2kvm-img convert` and of the GUI's convert and clone. Holes and zero runs are
// skipped or written as zeroes; several worker threads read and write large chunks at once.
#include "block/BlockDriver.h"

#include <cstdint>
#include <functional>

namespace e2kvm::block {

struct CopySettings {
    // The target already reads as zero everywhere (freshly created, no backing file): zero
    // ranges of the source need no write at all.
    bool targetReadsZero = true;
    // Zero runs at least this long (aligned to it) inside data are not written as data; 0 makes
    // the output fully allocated.
    uint64_t minSparse = 4096;
    // Write every target cluster compressed (qcow2 targets).
    bool compress = false;
    unsigned workers = 4;
    // Target writes happen in guest-offset order (keeps a qcow2 target's clusters in order).
    bool orderedWrites = false;
    // The target has a backing file that holds what the source's backing chain holds (qemu-img
    // convert -B): only what the source's top layer allocates is written, the rest shows
    // through. Use with targetReadsZero = false.
    bool topLayerOnly = false;
};

// Called from the worker threads with the bytes of source just finished (any thread; calls
// never overlap). It may throw to stop the copy: the exception comes out of copyImage.
using CopyAdvance = std::function<void(uint64_t bytes)>;

// Copies [0, source.size()) of `source` to the same offsets of `target`. Throws the first
// error of any worker (BlockError with the image's name) after all workers stopped.
void copyImage(BlockDriver& source, BlockDriver& target, const CopySettings& settings,
               const CopyAdvance& advance = {});

// True if the buffer holds only zero bytes.
bool isAllZero(const uint8_t* data, size_t length);

} // namespace e2kvm::block

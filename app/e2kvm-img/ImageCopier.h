#pragma once
// ImageCopier: copies the contents of one image (through its backing chain) into another, the
// engine of `convert`. Holes and zero runs are skipped or written as zeroes, several worker
// threads read and write large chunks at once.
#include "ProgressBar.h"
#include "block/BlockDriver.h"

#include <cstdint>

namespace e2kvm::img {

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
};

// Copies [0, source.size()) of `source` to the same offsets of `target`.
void copyImage(block::BlockDriver& source, block::BlockDriver& target, const CopySettings& settings,
               ProgressBar& progress);

// True if the buffer holds only zero bytes.
bool isAllZero(const uint8_t* data, size_t length);

} // namespace e2kvm::img

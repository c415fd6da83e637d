#pragma once
// DirtyMapOutput: `e2kvm-img map --bitmap NAME`: the dirty and clean runs of one bitmap of an
// image, in human or JSON layout.
#include "ImageOpening.h"
#include "block/BlockDriver.h"

#include <cstdint>
#include <string>

namespace e2kvm::img {

// Prints the runs of bitmap `name` over [start, end) of `image`; returns the exit code.
int printDirtyMap(block::BlockDriver& image, const std::string& name, OutputFormat output,
                  uint64_t start, uint64_t end);

} // namespace e2kvm::img

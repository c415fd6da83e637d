#pragma once
// The qcow2 driver's runtime options, checked as QEMU checks them when an image is opened or
// reopened: lazy-refcounts, pass-discard-request/-snapshot/-other, the overlap checks
// (Qcow2Overlap.h), cache-size, l2-cache-size, l2-cache-entry-size, refcount-cache-size and
// cache-clean-interval. Our driver sizes its caches itself, so of these only the overlap checks
// and lazy refcounts change what it does; the others are accepted when QEMU would accept them
// and refused with QEMU's message when it would not.
#include "block/ImageOptions.h"

#include <cstdint>
#include <optional>
#include <string>

namespace e2kvm::block::qcow2 {

// Whether `key` names one of the options above.
bool isQcow2RuntimeOption(const std::string& key);

// Checks the runtime options among `options` for an image of `clusterSize` and `diskSize`
// bytes; returns the overlap checks they choose. Throws BlockError(EINVAL) with QEMU's words.
unsigned checkQcow2RuntimeOptions(const DriverOptions& options, uint64_t clusterSize,
                                  uint64_t diskSize, bool v3);

// The lazy-refcounts option among (checked) `options`, if given.
std::optional<bool> lazyRefcountsOption(const DriverOptions& options);

} // namespace e2kvm::block::qcow2

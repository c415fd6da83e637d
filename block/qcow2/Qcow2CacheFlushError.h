#pragma once
// Qcow2CacheFlushError: a flush of a qcow2 image failed because one of its metadata caches
// could not be written back (a refcount block whose write the overlap checks refuse stays
// dirty and is refused again). QEMU reports such a failure at close as "Failed to flush the
// CACHE cache: why"; the program that closes the image prints it with its own name.
#include "block/BlockError.h"

#include <string>

namespace e2kvm::block::qcow2 {

class Qcow2CacheFlushError : public BlockError {
public:
    Qcow2CacheFlushError(int errnoValue, std::string cache, const std::string& message)
        : BlockError(errnoValue, message), cache_(std::move(cache)) {}

    // "refcount block" or "L2 table", as QEMU names its caches.
    const std::string& cache() const { return cache_; }

private:
    std::string cache_;
};

} // namespace e2kvm::block::qcow2

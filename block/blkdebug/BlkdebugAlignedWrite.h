#pragma once
// BlkdebugAlignedWrite: a write under a blkdebug node with an alignment (align=N), as QEMU's
// block layer performs it: the request is widened to whole units, the partial head and tail
// units read first (read-modify-write, raising the pwritev_rmw_* events a breakpoint can hold
// a request at), and the request tracked so that overlapping ones wait for it. Used by the
// host file under a format and by a blkdebug node over any other image (an NBD export).
#include "Blkdebug.h"

#include <cstdint>
#include <functional>
#include <span>

namespace e2kvm::block {

// `read` and `write` reach what is below the blkdebug node; `write` is called once with the
// widened request.
void writeAlignedThrough(Blkdebug& injector, uint64_t offset, std::span<const uint8_t> buf,
                         uint64_t align,
                         const std::function<void(uint64_t, std::span<uint8_t>)>& read,
                         const std::function<void(uint64_t, std::span<const uint8_t>)>& write);

} // namespace e2kvm::block

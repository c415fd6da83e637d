#pragma once
// Qcow2Image: a qcow2 (v2 read, v3 read/write) image, byte-compatible with QEMU's format.
#include "../BlockDriver.h"
#include "../ImageOpen.h"

#include <memory>

namespace e2kvm::block {

class Qcow2Image {
public:
    static std::unique_ptr<BlockDriver> open(const std::string& path, OpenOptions options);
    // With a `fileNode`, that open image (a protocol's disk) is the file the image is written
    // into, and `path` names it; without one, the host file `path` is created.
    static void create(const std::string& path, const CreateOptions& options,
                       std::shared_ptr<BlockDriver> fileNode = nullptr);
    // Rewrites the backing file name and format of a closed image (what `rebase` changes);
    // an empty name removes the backing file. The rest of the header is kept as it is.
    static void setBackingLink(const std::string& path, const std::string& backingName,
                               const std::string& backingFormat);
    // Empties a closed image as QEMU does after `commit`: every guest cluster reads from the
    // backing file again. A v3 image without snapshots, bitmaps or data file is laid out anew
    // (header, refcount table, one refcount block, zeroed L1 table); others have every
    // cluster discarded (Qcow2MakeEmpty.cpp). An `injector` goes between the format and the
    // file, as under the image's open; it sees QEMU's events for the emptying.
    static void makeEmpty(const std::string& path, std::shared_ptr<Blkdebug> injector = nullptr);
};

} // namespace e2kvm::block

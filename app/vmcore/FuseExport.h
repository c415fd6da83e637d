#pragma once
// FuseExport: one block node shown as a single regular file through FUSE, as QEMU's
// block-export-add {type: "fuse"}: mounted over an existing regular file (the mountpoint),
// served by a thread of its own until the object is destroyed, which unmounts it. Reads stop
// short at the end of the node; writes past it fail unless the export is growable; truncate
// and fallocate resize a writable export; chmod may change the mode as far as it does not
// promise access the export cannot give.
#include "block/BlockDriver.h"

#include <memory>
#include <string>

namespace e2kvm::vm {

// QEMU's FuseExportAllowOther: whether users other than this process's may use the file.
enum class FuseAllowOther {
    Off,
    On,
    Auto, // with allow_other if the mount allows it, else without
};

struct FuseExportOptions {
    std::string mountpoint; // an existing regular file
    bool writable = false;
    bool growable = false;     // writes past the end grow the node
    bool writethrough = false; // each write flushed before it is answered
    FuseAllowOther allowOther = FuseAllowOther::Auto;
    // The node's discard=unmap: punching a hole discards. Otherwise the request is accepted
    // and does nothing, as QEMU ignores discards by default.
    bool discardUnmaps = false;
};

class FuseExport {
public:
    // Mounts the export. Throws std::runtime_error with QEMU's wording ("Failed to stat 'X':
    // No such file or directory", "'X' is not a regular file", "Failed to mount FUSE session
    // to export").
    FuseExport(std::shared_ptr<block::BlockDriver> image, const FuseExportOptions& options);
    ~FuseExport(); // stops serving, then unmounts
    FuseExport(const FuseExport&) = delete;
    FuseExport& operator=(const FuseExport&) = delete;

    const std::string& mountpoint() const;
    bool allowOther() const; // as mounted

    struct State; // what the FUSE callbacks act on (FuseExport.cpp)

private:
    std::unique_ptr<State> state_;
};

} // namespace e2kvm::vm

#pragma once
// Qcow2Image: a qcow2 (v2 read, v3 read/write) image, byte-compatible with QEMU's format.
#include "../BlockDriver.h"
#include "../ImageOpen.h"

#include <memory>

namespace e2kvm::block {

class Qcow2Image {
public:
    static std::unique_ptr<BlockDriver> open(const std::string& path, OpenOptions options);
    static void create(const std::string& path, const CreateOptions& options);
};

} // namespace e2kvm::block

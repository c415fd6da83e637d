#include "Qcow2Image.h"

#include "Qcow2Driver.h"

namespace e2kvm::block {

std::unique_ptr<BlockDriver> Qcow2Image::open(const std::string& path, OpenOptions options) {
    return std::make_unique<qcow2::Qcow2Driver>(path, options);
}

} // namespace e2kvm::block

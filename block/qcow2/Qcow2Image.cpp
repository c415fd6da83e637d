#include "Qcow2Image.h"

// Placeholder until the qcow2 driver lands in this directory.
namespace e2kvm::block {
std::unique_ptr<BlockDriver> Qcow2Image::open(const std::string& path, OpenOptions) {
    throwError(ENOTSUP, path, "qcow2 is not implemented yet");
}
void Qcow2Image::create(const std::string& path, const CreateOptions&) {
    throwError(ENOTSUP, path, "qcow2 is not implemented yet");
}
} // namespace e2kvm::block

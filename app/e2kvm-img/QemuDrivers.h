#pragma once
// QemuDrivers: what qemu-img 7.2 knows of block drivers this tool does not implement, so that
// a command naming one fails with QEMU's message rather than "Unknown file format".
#include <string>

namespace e2kvm::img {

// The drivers qemu-img knows but cannot create images with (read-only formats, filters,
// null-co): qemu-img says "Format driver 'X' does not support image creation".
bool isNonCreatingQemuDriver(const std::string& name);

// The message qemu-img gives when asked to create an image of `format`, which this tool
// cannot create: the "does not support image creation" words for a driver QEMU cannot create
// with either, else "Unknown file format".
std::string cannotCreateMessage(const std::string& format);

} // namespace e2kvm::img

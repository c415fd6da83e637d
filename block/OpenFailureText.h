#pragma once
// OpenFailureText: a failure to open an image in QEMU's words. Our errors name their file in
// front ("t.qcow2: qcow2 header exceeds cluster size", "base.qcow2: Could not open: No such
// file or directory"); QEMU's tools print the reason alone, and a file that cannot be opened as
// "Could not open 'base.qcow2': No such file or directory", also inside a longer message
// ("Could not open backing file: Could not open 'base.qcow2': ...").
#include <string>

namespace e2kvm::block {

// `message` (what() of the error opening `path`) as QEMU words it after
// "can't open device PATH: " (qemu-io) or "Could not open 'PATH': " (qemu-img).
std::string openFailureText(const std::string& path, const std::string& message);

} // namespace e2kvm::block

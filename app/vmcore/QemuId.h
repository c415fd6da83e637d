#pragma once
// QemuId: QEMU's rule for the ids users give things (drives, devices, objects, jobs, nodes): a
// letter first, then letters, digits, '-', '.' and '_'.
#include <string>

namespace e2kvm::vm {

bool wellFormedId(const std::string& id);

} // namespace e2kvm::vm

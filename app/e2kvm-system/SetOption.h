#pragma once
// -set GROUP.ID.ARG=VALUE in qemu-system's meaning: property ARG of the -device, -drive or
// -object whose id is ID (given before the -set) becomes VALUE, as if it had been written in
// that option ("-set device.hba0.iothread=iothread0").
#include <string>
#include <vector>

namespace e2kvm::sys {

// The command line with every -set applied to the option it names and removed. Throws
// OptionError with QEMU's wording ("-set device.x.y=z: there is no device \"x\" defined",
// "There is no option group 'foo'", "can't parse: \"...\"").
std::vector<std::string> applySetOptions(const std::vector<std::string>& args);

} // namespace e2kvm::sys

#pragma once
// QemuOpts: QEMU's option syntax "key=value,key=value" (",," a comma inside a value), as
// -device, -drive and device_add's HMP form use it, and the error a bad option string raises.
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace e2kvm::guestdev {

// A bad option. what() is the qemu-style message without the program name:
// "-m 7Q: invalid size".
class OptionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Splits "a=1,b=2" into key/value pairs (",," is a literal comma). A leading item without '='
// gets `impliedKey` (or is an error when that is empty). Throws OptionError.
std::vector<std::pair<std::string, std::string>> splitQemuOpts(const std::string& text,
                                                               const std::string& impliedKey);

} // namespace e2kvm::guestdev

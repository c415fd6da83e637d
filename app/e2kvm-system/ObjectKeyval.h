#pragma once
// ObjectKeyval: a -object argument ("throttle-group,id=tg0,x-bps-total=1024",
// "iothread,id=io0", "throttle-group,id=t,limits.iops-total=10") as the object-add arguments
// it stands for: the first item is qom-type, dotted keys become nested objects, and numbers
// become integers (every property of the objects e2kvm-system makes is a string id or an
// integer).
#include "app/qmp/Json.h"

#include <string>

namespace e2kvm::sys {

// Throws OptionError without the "-object SPEC: " prefix.
qmp::Json parseObjectArgument(const std::string& spec);

} // namespace e2kvm::sys

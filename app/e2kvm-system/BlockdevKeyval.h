#pragma once
// BlockdevKeyval: a -blockdev argument as the blockdev-add arguments it stands for. QEMU's
// dotted keys ("driver=qcow2,file.driver=file,file.filename=a.qcow2") become nested objects
// whose values are typed by the option they set (read-only=on a boolean, size=1M... an
// integer); an argument starting with '{' is taken as the JSON object itself.
#include "app/qmp/Json.h"

#include <string>

namespace e2kvm::sys {

// Throws OptionError ("-blockdev SPEC: Parameter 'read-only' expects 'on' or 'off'").
qmp::Json parseBlockdevArgument(const std::string& spec);

// The member `key` of the object `obj`, added as an empty object if it is not there yet: the
// step from "a" to "a.b" when dotted keys are made into nested objects.
qmp::Json& memberOf(qmp::Json& obj, const std::string& key);

} // namespace e2kvm::sys

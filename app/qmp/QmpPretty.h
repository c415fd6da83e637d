#pragma once
// prettyJson: a QMP message as QEMU writes it on a -qmp-pretty monitor: every member and array
// element on its own line, indented by four spaces per level, "key": value, and an empty
// object or array still split over two lines ("{" ... "}").
#include "app/qmp/Json.h"

#include <string>

namespace e2kvm::qmp {

// The text without a final newline.
std::string prettyJson(const Json& value);

} // namespace e2kvm::qmp

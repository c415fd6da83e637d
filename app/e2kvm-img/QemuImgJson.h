#pragma once
// qemu-img's two ways of printing a QAPI result: --output=json (pretty, four-space indents,
// object members in QEMU's hash-table order) and the "Format specific information" block of
// `qemu-img info`. The values themselves are json::Json.
#include "app/json/Json.h"

#include <string>

namespace e2kvm::img {

// Pretty text, no trailing newline. Members must be added to objects in the order of the QAPI
// schema: QEMU's dictionary keeps members that share a hash bucket newest first, so that
// order is part of the output.
std::string prettyJson(const json::Json& value);

// One "key: value" line per scalar (dashes in keys shown as spaces), "[i]:" for list entries,
// nested values indented four more spaces from `level`.
std::string humanDump(const json::Json& value, int level);

} // namespace e2kvm::img

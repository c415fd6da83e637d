#pragma once
// JsonFilename: QEMU's "json:{...}" pseudo-protocol, an image name that carries the open options
// as a JSON object ("json:{'driver': 'qcow2', 'file': {'filename': 'a.qcow2'}}"). The object is
// flattened into the dotted option keys --image-opts uses ("file.filename"), so both spellings
// of a nested option mean the same.
#include "ImageOptions.h"

#include <string>

namespace e2kvm::block {

// Whether `name` is a json: pseudo-protocol name.
bool isJsonFilename(const std::string& name);

// The options of a json: name: nested objects and arrays as dotted keys ("inject-error.0.event"),
// strings as they are, numbers in decimal, true/false as on/off and null as the empty string
// (QEMU's "no such child": 'backing': null). Throws BlockError(EINVAL) with QEMU's words when
// the text after "json:" is no JSON object.
DriverOptions parseJsonFilename(const std::string& name);

} // namespace e2kvm::block

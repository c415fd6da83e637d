#pragma once
// QdictOrder: QEMU sends every QMP object (replies, events, the greeting) in the order its
// QDict iterates the members, which follows a hash of the key, not the order they were added.
// Tests that compare QMP text with QEMU's (iotests with -qmp-pretty, or the plain lines) need
// the same order, so each message is reordered this way before it is written.
#include "app/qmp/Json.h"

namespace e2kvm::qmp {

// `value` with the members of each object in it (at any depth) in QEMU's QDict order.
Json inQdictOrder(const Json& value);

} // namespace e2kvm::qmp

#pragma once
// QdictOrder: the order in which QEMU's QDict iterates an object's members. It follows a hash
// of the key, not the order the members were added, and QEMU writes its JSON (QMP replies,
// events and the greeting; qemu-img's --output=json) in that order. Whatever compares text
// with QEMU's output reorders objects this way before writing them.
#include "app/json/Json.h"

#include <cstddef>
#include <vector>

namespace e2kvm::json {

// The member indices of `members` in QEMU's iteration order.
std::vector<size_t> qdictMemberOrder(const Json::Object& members);

// `value` with the members of each object in it (at any depth) in QEMU's QDict order.
Json inQdictOrder(const Json& value);

} // namespace e2kvm::json

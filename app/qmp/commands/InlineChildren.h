#pragma once
// InlineChildren: blockdev-add's inline child definitions that carry a node-name of their own
// ({"backing": {"driver": "qcow2", "node-name": "base", ...}}) made into nodes of their own, as
// QEMU makes them: each such child is added first (innermost first) and the parent then names
// it by reference.
#include "app/qmp/Json.h"

#include <functional>
#include <string>
#include <vector>

namespace e2kvm::qmp {

struct HoistedChildren {
    // blockdev-add's arguments with every named inline child replaced by its node name.
    Json options;
    // The nodes added for them, innermost first.
    std::vector<std::string> added;
};

// Adds the named inline children of `options` with `add` (blockdev-add of the child's
// arguments, which adds its own named children in turn); named ones under an unnamed inline
// child are found too. A child without a driver under "file" is a host file; a child inherits its
// parent's read-only. If an add throws, the nodes added so far are removed with `remove`
// (newest first) and the error goes on.
HoistedChildren hoistNamedChildren(const Json& options, const std::function<void(const Json&)>& add,
                                   const std::function<void(const std::string&)>& remove);

} // namespace e2kvm::qmp

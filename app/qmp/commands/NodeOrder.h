#pragma once
// NodeOrder: the process's block nodes as QEMU keeps them, in the order they were created: the
// nodes of the table and QMP's protocol-only file nodes together. QEMU's query-named-block-nodes
// and x-debug-query-block-graph walk that order (and print it newest first).
#include "app/qmp/QmpContext.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::qmp {

struct OrderedNode {
    std::string name;
    // The table's node: null for a file node nothing has opened yet; for a file node that a
    // snapshot or an export opened, the table node of its name.
    std::shared_ptr<vm::BlockNode> node;
    bool fileNode = false; // a protocol-only "file" node of blockdev-add
    uint64_t created = 0;
};

// Oldest first.
std::vector<OrderedNode> nodesInCreationOrder(QmpContext& ctx);

} // namespace e2kvm::qmp

#include "app/qmp/commands/NodeOrder.h"

#include <algorithm>

namespace e2kvm::qmp {

std::vector<OrderedNode> nodesInCreationOrder(QmpContext& ctx) {
    std::vector<OrderedNode> out;
    for (const auto& node : ctx.nodes.list())
        if (!ctx.fileNodes.count(node->name)) // a file node's table node: listed as the file node
            out.push_back(OrderedNode{node->name, node, false, node->created});
    for (const auto& [name, file] : ctx.fileNodes)
        out.push_back(
            OrderedNode{name, ctx.nodes.find(name), true, ctx.nodes.outsideNodeCreated(name)});
    std::stable_sort(out.begin(), out.end(), [](const OrderedNode& a, const OrderedNode& b) {
        return a.created < b.created;
    });
    return out;
}

} // namespace e2kvm::qmp

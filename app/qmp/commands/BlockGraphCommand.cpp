// x-debug-query-block-graph: the process's nodes as QEMU's "block-driver" graph nodes and the
// links between them: a layer's backing child, a format node's file child when that is a file
// node of its own. As QEMU builds it: the nodes are walked in creation order, each node and each
// child it links to numbered when first met (from 1), a node's children newest link first (the
// backing a node gets comes after its file); nodes and edges are then printed last met first.
// The permissions of an edge follow QEMU's default rules for the child's role from what the
// parent's own parents take and share.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/commands/CommitFilter.h"
#include "app/qmp/commands/NodeOrder.h"
#include "block/qcow2/Qcow2Driver.h"

#include <map>
#include <optional>

namespace e2kvm::qmp {

namespace {

// QEMU's block permissions (BlockPermission), in the order of its enumeration.
enum Permission : unsigned {
    kConsistentRead = 1u << 0,
    kWrite = 1u << 1,
    kWriteUnchanged = 1u << 2,
    kResize = 1u << 3,
    kAllPermissions = 0x0f,
};

// The permissions as QEMU lists them in the graph: last of the enumeration first.
Json permList(unsigned perms) {
    static const char* const names[] = {"consistent-read", "write", "write-unchanged", "resize"};
    Json list = Json::array();
    for (int bit = 3; bit >= 0; --bit)
        if (perms & (1u << bit))
            list.push(names[bit]);
    return list;
}

enum class ChildRole {
    Backing,      // a format layer's backing image (QEMU's COW child)
    File,         // a format node's file: its data and metadata
    FilterTarget, // what a commit's filter stands over
};

struct Edge {
    size_t parent; // indexes into the node list
    size_t child;
    ChildRole role;
};

struct Permissions {
    unsigned perm = 0;
    unsigned shared = kAllPermissions;
};

// What a parent that takes `parent.perm` and shares `parent.shared` on node `writable` asks of
// a child in `role` (QEMU's default child permissions).
Permissions childPermissions(ChildRole role, const Permissions& parent, bool writable) {
    Permissions c;
    switch (role) {
    case ChildRole::Backing:
        c.perm = parent.perm & kConsistentRead;
        c.shared = (parent.shared & kWrite) ? kWrite | kResize : 0u;
        c.shared |= kConsistentRead | kWriteUnchanged;
        return c;
    case ChildRole::FilterTarget:
        // As e2kvm has always shown a commit filter's link: nothing taken, all shared.
        return Permissions{0, kAllPermissions};
    case ChildRole::File:
        // What passes through as for a filter, then what metadata and data need.
        c.perm = parent.perm & kAllPermissions;
        c.shared = parent.shared & kAllPermissions;
        if (writable)
            c.perm |= kWrite | kResize;
        c.perm |= kConsistentRead;
        c.shared &= ~(kWrite | kResize);
        if (c.perm & kWriteUnchanged)
            c.perm |= kWrite;
        if (c.perm & kWrite)
            c.perm |= kResize;
        return c;
    }
    return c;
}

// The image a node links to as its backing child: a qcow2 layer's backing file, a commit
// filter's top layer.
const block::BlockDriver* backingChild(const block::BlockDriver& image) {
    if (auto* f = dynamic_cast<const CommitFilter*>(&image))
        return f->file().get();
    if (auto* q = dynamic_cast<const block::qcow2::Qcow2Driver*>(&image))
        return q->backingImage().get();
    return nullptr;
}

class GraphBuilder {
public:
    explicit GraphBuilder(QmpContext& ctx) : ctx_(ctx), nodes_(nodesInCreationOrder(ctx)) {
        for (size_t i = 0; i < nodes_.size(); ++i) {
            if (nodes_[i].node)
                indexOfImage_.emplace(nodes_[i].node->image.get(), i); // the first names it
            indexOfName_.emplace(nodes_[i].name, i);
        }
        collectEdges();
    }

    Json graph() {
        // Numbered as met, in creation order; each node's children newest link first.
        std::vector<std::optional<uint64_t>> ids(nodes_.size());
        uint64_t next = 1;
        auto idOf = [&](size_t i) {
            if (!ids[i])
                ids[i] = next++;
            return *ids[i];
        };
        std::vector<Json> nodeList;
        std::vector<Json> edgeList;
        for (size_t i = 0; i < nodes_.size(); ++i) {
            nodeList.push_back(Json::object(
                {{"id", idOf(i)}, {"type", "block-driver"}, {"name", nodes_[i].name}}));
            for (auto e = edges_.rbegin(); e != edges_.rend(); ++e) {
                if (e->parent != i)
                    continue;
                Permissions p = edgePermissions(*e);
                uint64_t parentId = idOf(e->parent);
                uint64_t childId = idOf(e->child);
                edgeList.push_back(
                    Json::object({{"parent", parentId},
                                  {"child", childId},
                                  {"name", e->role == ChildRole::File ? "file" : "backing"},
                                  {"perm", permList(p.perm)},
                                  {"shared-perm", permList(p.shared)}}));
            }
        }
        Json nodesOut = Json::array();
        for (auto it = nodeList.rbegin(); it != nodeList.rend(); ++it)
            nodesOut.push(std::move(*it));
        Json edgesOut = Json::array();
        for (auto it = edgeList.rbegin(); it != edgeList.rend(); ++it)
            edgesOut.push(std::move(*it));
        return Json::object({{"nodes", std::move(nodesOut)}, {"edges", std::move(edgesOut)}});
    }

private:
    // Each node's links in the order they were made: its file first, then its backing.
    void collectEdges() {
        // A layer that a stream linked to a commit's filter has the filter as its backing child.
        std::vector<std::shared_ptr<CommitFilter>> filters;
        for (const OrderedNode& n : nodes_)
            if (n.node)
                if (auto f = std::dynamic_pointer_cast<CommitFilter>(n.node->image))
                    filters.push_back(f);
        for (size_t i = 0; i < nodes_.size(); ++i) {
            auto file = ctx_.fileNodeUsers.find(nodes_[i].name);
            if (file != ctx_.fileNodeUsers.end())
                if (auto child = indexOfName_.find(file->second); child != indexOfName_.end())
                    edges_.push_back(Edge{i, child->second, ChildRole::File});
            if (!nodes_[i].node)
                continue;
            const block::BlockDriver& image = *nodes_[i].node->image;
            const block::BlockDriver* backing = backingChild(image);
            for (const auto& f : filters)
                if (f->isAttached(&image))
                    backing = f.get();
            auto child = backing ? indexOfImage_.find(backing) : indexOfImage_.end();
            if (child != indexOfImage_.end())
                edges_.push_back(Edge{i, child->second,
                                      dynamic_cast<const CommitFilter*>(&image)
                                          ? ChildRole::FilterTarget
                                          : ChildRole::Backing});
        }
    }

    // What the node's parents in the graph take and share together (nothing and everything
    // for a node without parents).
    Permissions cumulative(size_t node, int depth) {
        Permissions total;
        if (depth > 1000)
            return total;
        for (const Edge& e : edges_)
            if (e.child == node) {
                Permissions p = edgePermissions(e, depth + 1);
                total.perm |= p.perm;
                total.shared &= p.shared;
            }
        return total;
    }

    Permissions edgePermissions(const Edge& e, int depth = 0) {
        const OrderedNode& parent = nodes_[e.parent];
        bool writable = parent.fileNode ? !ctx_.readOnlyFileNodes.count(parent.name)
                                        : parent.node && !parent.node->readOnly;
        return childPermissions(e.role, cumulative(e.parent, depth), writable);
    }

    QmpContext& ctx_;
    std::vector<OrderedNode> nodes_;
    std::map<const block::BlockDriver*, size_t> indexOfImage_;
    std::map<std::string, size_t> indexOfName_;
    std::vector<Edge> edges_;
};

Json blockGraph(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    a.finish();
    return GraphBuilder(ctx).graph();
}

} // namespace

void registerBlockGraphCommand(QmpContext& ctx) {
    ctx.addCommand({"x-debug-query-block-graph", blockGraph});
}

} // namespace e2kvm::qmp

// x-debug-query-block-graph: the nodes of the table (as QEMU's "block-driver" graph nodes,
// numbered from 1 in table order) and the backing links between them, which iotests read to
// check where a chain leads after block jobs.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/commands/CommitFilter.h"
#include "block/qcow2/Qcow2Driver.h"

#include <map>

namespace e2kvm::qmp {

namespace {

// The image a node links to as its backing child: a qcow2 layer's backing file, a commit
// filter's top layer.
const block::BlockDriver* backingChild(const block::BlockDriver& image) {
    if (auto* f = dynamic_cast<const CommitFilter*>(&image))
        return f->file().get();
    if (auto* q = dynamic_cast<const block::qcow2::Qcow2Driver*>(&image))
        return q->backingImage().get();
    return nullptr;
}

Json permList(std::initializer_list<const char*> perms) {
    Json list = Json::array();
    for (const char* p : perms)
        list.push(p);
    return list;
}

Json blockGraph(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    a.finish();
    std::vector<std::shared_ptr<vm::BlockNode>> nodes = ctx.nodes.list();
    std::map<const block::BlockDriver*, uint64_t> idOfImage;
    Json list = Json::array();
    for (size_t i = 0; i < nodes.size(); ++i) {
        uint64_t id = i + 1;
        idOfImage.emplace(nodes[i]->image.get(), id); // the first node of an image names it
        list.push(Json::object({{"id", id}, {"type", "block-driver"}, {"name", nodes[i]->name}}));
    }
    // A layer that a stream linked to a commit's filter has the filter as its backing child.
    std::vector<std::shared_ptr<CommitFilter>> filters;
    for (const auto& n : nodes)
        if (auto f = std::dynamic_pointer_cast<CommitFilter>(n->image))
            filters.push_back(f);
    Json edges = Json::array();
    for (size_t i = 0; i < nodes.size(); ++i) {
        const block::BlockDriver* child = backingChild(*nodes[i]->image);
        for (const auto& f : filters)
            if (f->isAttached(nodes[i]->image.get()))
                child = f.get();
        auto it = child ? idOfImage.find(child) : idOfImage.end();
        if (it == idOfImage.end())
            continue;
        // A backing child takes no permission and shares all but graph changes, as QEMU's
        // backing child of a node that nobody writes through.
        edges.push(Json::object({{"parent", uint64_t(i + 1)},
                                 {"child", it->second},
                                 {"name", "backing"},
                                 {"perm", Json::array()},
                                 {"shared-perm", permList({"resize", "write-unchanged", "write",
                                                           "consistent-read"})}}));
    }
    return Json::object({{"nodes", std::move(list)}, {"edges", std::move(edges)}});
}

} // namespace

void registerBlockGraphCommand(QmpContext& ctx) {
    ctx.addCommand({"x-debug-query-block-graph", blockGraph});
}

} // namespace e2kvm::qmp

#include "app/qmp/commands/ChainLookup.h"

#include "app/qmp/commands/NodeFilename.h"

#include "block/ImageOpen.h"
#include "block/filter/PassThroughFilter.h"
#include "block/qcow2/Qcow2Driver.h"

#include <algorithm>
#include <cctype>
#include <sys/stat.h>

namespace e2kvm::qmp {

namespace {
bool sameFile(const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
} // namespace

std::vector<ChainLayer> chainOf(QmpContext& ctx, const std::shared_ptr<block::BlockDriver>& top,
                                bool throughFilters) {
    std::vector<ChainLayer> chain;
    auto nodes = ctx.nodes.list();
    std::shared_ptr<block::BlockDriver> layer = top;
    while (layer && chain.size() < 1000) {
        ChainLayer l{layer, nullptr};
        for (const auto& n : nodes)
            if (n->image == layer)
                l.node = n;
        chain.push_back(l);
        auto* q = dynamic_cast<block::qcow2::Qcow2Driver*>(layer.get());
        auto* filter =
            throughFilters ? dynamic_cast<block::PassThroughFilter*>(layer.get()) : nullptr;
        layer = q ? q->backingImage() : filter ? filter->file() : nullptr;
    }
    return chain;
}

std::optional<size_t> findLayer(const std::vector<ChainLayer>& chain, const std::string& name,
                                bool byFile) {
    for (size_t i = 0; i < chain.size(); ++i) {
        if (!byFile && chain[i].node && chain[i].node->name == name)
            return i;
        if (byFile &&
            (chain[i].image->filename() == name || (chain[i].node && chain[i].node->file == name) ||
             refreshedFilename(*chain[i].image, chain[i].image->filename()) == name))
            return i;
    }
    if (byFile)
        for (size_t i = 0; i < chain.size(); ++i) {
            if (sameFile(chain[i].image->filename(), name))
                return i;
            // A relative name as the layer above names its backing file (QEMU's
            // bdrv_find_backing_image resolves it against that layer's directory).
            if (i > 0 && !name.empty() && name[0] != '/' &&
                sameFile(block::resolveBackingPath(chain[i - 1].image->filename(), name),
                         chain[i].image->filename()))
                return i;
        }
    return std::nullopt;
}

std::optional<std::string> driveOfNode(QmpContext& ctx, const std::string& nodeName) {
    if (!ctx.machine)
        return std::nullopt;
    for (const QmpMachineDisk& d : ctx.machine->disks())
        if (d.nodeName == nodeName && !d.device.empty())
            return d.device;
    return std::nullopt;
}

bool layerInUse(QmpContext& ctx, const vm::BlockNode& node) {
    if (ctx.machine)
        for (const QmpMachineDisk& d : ctx.machine->disks()) {
            auto used = ctx.nodes.find(d.nodeName);
            if (!used)
                continue;
            for (const block::BlockDriver* b = used->image.get(); b; b = b->backing())
                if (b == node.image.get())
                    return true;
        }
    for (const std::string& user : ctx.nodes.users(node.name))
        if (user.rfind("backing of node '", 0) != 0)
            return true;
    return false;
}

void moveDrives(QmpContext& ctx, const vm::BlockNode& from, const vm::BlockNode& to) {
    if (!ctx.machine)
        return;
    for (const QmpMachineDisk& d : ctx.machine->disks()) {
        if (d.nodeName != from.name)
            continue;
        if (d.handle)
            d.handle->retarget(to.image);
        if (!d.user.empty()) {
            ctx.nodes.setUser(from.name, d.user, false);
            ctx.nodes.setUser(to.name, d.user, true);
        }
        ctx.machine->setDiskNode(d.qomPath.empty() ? d.device : d.qomPath, to.name);
    }
}

bool wellFormedJobId(const std::string& id) {
    if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0])))
        return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    });
}

void releaseDroppedLayers(vm::BlockNodeTable& nodes, const std::vector<ChainLayer>& dropped,
                          const std::string& aboveNode) {
    std::string above = aboveNode;
    for (const ChainLayer& l : dropped) {
        if (!l.node) {
            above.clear();
            continue;
        }
        if (!above.empty())
            nodes.setUser(l.node->name, vm::BlockNodeTable::backingUser(above), false);
        above = l.node->name;
    }
}

} // namespace e2kvm::qmp

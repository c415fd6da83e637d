// QMP jobs on a backing chain: block-stream (job type "stream") and block-commit (job type
// "commit": of a layer below the active one, or of the active layer, which becomes ready and
// waits for complete), with QEMU 7.2's checks and wording. At the end
// of a job the layers it took out of the chain lose their table nodes.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/ChainLookup.h"
#include "app/qmp/commands/CommitFilter.h"
#include "app/qmp/commands/JobTarget.h"
#include "app/qmp/commands/NodeLookup.h"
#include "block/filter/CopyOnReadFilter.h"
#include "block/filter/PassThroughFilter.h"
#include "block/job/ActiveCommitJob.h"
#include "block/job/CommitJob.h"
#include "block/job/StreamJob.h"

#include <algorithm>
#include <functional>

namespace e2kvm::qmp {

namespace {

struct JobOptions {
    std::optional<std::string> jobId;
    std::optional<std::string> filterNodeName;
    uint64_t speed = 0;
    block::ErrorPolicy onError = block::ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
};

JobOptions jobOptions(QmpArgs& a) {
    JobOptions o;
    o.jobId = a.optStr("job-id");
    std::optional<int64_t> speed = a.optInt("speed");
    std::string onError =
        a.optEnum("on-error", {"report", "ignore", "enospc", "stop", "auto"}).value_or("report");
    o.onError = errorPolicyFromName(onError);
    o.filterNodeName = a.optStr("filter-node-name");
    o.autoFinalize = a.optBool("auto-finalize", true);
    o.autoDismiss = a.optBool("auto-dismiss", true);
    if (speed && *speed < 0)
        throw QmpError("Parameter 'speed' expects a non-negative value");
    o.speed = speed ? uint64_t(*speed) : 0;
    return o;
}

// The job's id: given, or the drive's id of `node`; checked as QEMU's job_create does.
std::string jobIdFor(QmpContext& ctx, const JobOptions& o, const vm::BlockNode& node) {
    std::optional<std::string> id = o.jobId;
    if (!id)
        id = driveOfNode(ctx, node.name);
    if (!id)
        throw QmpError("Invalid job ID ''"); // QEMU takes the node's (empty) device name
    if (!wellFormedJobId(*id))
        throw QmpError("Invalid job ID '" + *id + "'");
    try {
        ctx.jobs.checkIdFree(*id);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return *id;
}

// The named copy-on-read filter a running block-stream put over `layer` (its top), if any: in
// QEMU's graph it stands between the top and the top's parents.
std::shared_ptr<vm::BlockNode> streamFilterOver(QmpContext& ctx, const block::BlockDriver* layer) {
    for (const auto& n : ctx.nodes.list())
        if (auto f = std::dynamic_pointer_cast<block::CopyOnReadFilter>(n->image))
            if (f->file().get() == layer && !ctx.jobs.nodeBusyWith(n->name).empty())
                return n;
    return nullptr;
}

// QEMU's op blockers: a layer a job works on is busy for another. A walk down from above meets
// a stream's filter before the stream's top.
void checkNotBusy(QmpContext& ctx, const std::vector<ChainLayer>& chain, size_t from, size_t to,
                  const std::string& label) {
    for (size_t i = from; i < to && i < chain.size(); ++i) {
        if (!chain[i].node)
            continue;
        std::string name = i == 0 ? label : chain[i].node->name;
        std::string busy = ctx.jobs.nodeBusyWith(chain[i].node->name);
        if (i > from)
            if (auto filter = streamFilterOver(ctx, chain[i].image.get())) {
                name = filter->name;
                busy = ctx.jobs.nodeBusyWith(filter->name);
            }
        if (!busy.empty())
            throw QmpError("Node '" + name +
                           "' is busy: block device is in use by block job: " + busy);
    }
}

// A stream whose top is read-only (a layer below the active one) holds the links from its top
// down to the layer above its base while it reopens the top read-write, as QEMU's; a running
// commit's filter never lets a link to it be held ("Cannot freeze 'backing' link to ...").
// With that filter as the base (`filterIsBase`), the link to it is the base's and not held.
void checkLinksFreezable(QmpContext& ctx, const std::vector<ChainLayer>& chain, size_t baseIndex,
                         bool filterIsBase) {
    size_t held = filterIsBase ? baseIndex - 1 : baseIndex; // links 0 -> 1, ..., held-1 -> held
    for (size_t k = 0; k + 1 < chain.size() && k < held; ++k) {
        if (!CommitFilter::standsBetween(chain[k].image.get(), chain[k + 1].image.get()))
            continue;
        for (const auto& n : ctx.nodes.list())
            if (auto f = std::dynamic_pointer_cast<CommitFilter>(n->image))
                if (f->file() == chain[k + 1].image)
                    throw QmpError("Cannot freeze 'backing' link to '" + n->name + "'");
    }
}

std::vector<std::string> tableNodes(const std::vector<ChainLayer>& chain, size_t from, size_t to) {
    std::vector<std::string> out;
    for (size_t i = from; i < to && i < chain.size(); ++i)
        if (chain[i].node)
            out.push_back(chain[i].node->name);
    return out;
}

// The layers [from, to) drop out of the chain when the job succeeds: their table nodes are
// removed when it ends (those still used by others stay).
void dropWhenDone(QmpContext& ctx, const std::string& jobId, const std::vector<ChainLayer>& chain,
                  size_t from, size_t to) {
    for (const std::string& name : tableNodes(chain, from, to))
        ctx.closeWhenJobEnds(jobId, name);
}

// Whether the monitor holds the node: blockdev-add gave it, not as a named inline child of
// another node's definition.
bool monitorOwned(QmpContext& ctx, const std::string& name) {
    if (!ctx.nodeOptions.count(name))
        return false;
    for (const auto& [parent, children] : ctx.inlineChildNodes)
        if (std::find(children.begin(), children.end(), name) != children.end())
            return false;
    return true;
}

// The table nodes among the layers [from, to) that a commit takes out of the chain and that go
// when it ends: not those the monitor holds, nor the layers under such a node in that range,
// which it still holds (QEMU keeps a node while it has a parent or the monitor's reference).
std::vector<std::string> closedAfterCommit(QmpContext& ctx, const std::vector<ChainLayer>& chain,
                                           size_t from, size_t to) {
    std::vector<std::string> out;
    bool held = false;
    for (size_t i = from; i < to && i < chain.size(); ++i) {
        if (!chain[i].node)
            continue;
        held = held || monitorOwned(ctx, chain[i].node->name);
        if (!held)
            out.push_back(chain[i].node->name);
    }
    return out;
}

// The layers a commit took out of the chain are no longer the backing of a node whose image
// does not read them any more (a filter above the overlay counts its file's backing as its
// own).
void releaseStaleBackingUsers(vm::BlockNodeTable& nodes, const std::vector<ChainLayer>& dropped) {
    const std::string empty = vm::BlockNodeTable::backingUser("");
    const std::string head = empty.substr(0, empty.size() - 1); // up to the opening quote
    for (const ChainLayer& l : dropped) {
        if (!l.node)
            continue;
        for (const std::string& user : nodes.users(l.node->name)) {
            if (user.rfind(head, 0) != 0 || user.back() != '\'')
                continue;
            std::string overlay = user.substr(head.size(), user.size() - head.size() - 1);
            std::shared_ptr<vm::BlockNode> above = nodes.find(overlay);
            if (!above || above->image->backing() != l.image.get())
                nodes.setUser(l.node->name, user, false);
        }
    }
}

Json blockStream(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string device = a.str("device");
    std::optional<std::string> base = a.optStr("base");
    std::optional<std::string> baseNode = a.optStr("base-node");
    std::optional<std::string> bottom = a.optStr("bottom");
    std::optional<std::string> backingFile = a.optStr("backing-file");
    JobOptions o = jobOptions(a);
    a.finish();
    if (base && baseNode)
        throw QmpError("'base' and 'base-node' cannot be specified at the same time");
    if (base && bottom)
        throw QmpError("'base' and 'bottom' cannot be specified at the same time");
    if (bottom && baseNode)
        throw QmpError("'bottom' and 'base-node' cannot be specified at the same time");
    auto top = lookupNode(ctx, device);
    std::vector<ChainLayer> chain = chainOf(ctx, top->image);
    size_t baseIndex = chain.size(); // none: the whole chain is copied
    if (base) {
        auto i = findLayer(chain, *base, true);
        if (!i || *i == 0)
            throw QmpError("Can't find '" + *base + "' in the backing chain");
        baseIndex = *i;
    }
    // A commit's filter as the base: the layers above the commit's top are copied, and the
    // top layer ends on the filter's chain (QEMU's stream over a filtered base).
    std::shared_ptr<CommitFilter> baseFilter;
    if (baseNode) {
        std::shared_ptr<vm::BlockNode> named = ctx.nodes.find(*baseNode);
        if (!named)
            throw QmpError("Cannot find device='' nor node-name='" + *baseNode + "'");
        baseFilter = std::dynamic_pointer_cast<CommitFilter>(named->image);
        std::optional<size_t> i;
        if (baseFilter) {
            for (size_t k = 0; k < chain.size() && !i; ++k)
                if (chain[k].image == baseFilter->file())
                    i = k;
        } else {
            i = findLayer(chain, *baseNode, false);
        }
        if (!i || *i == 0)
            throw QmpError("Node '" + *baseNode + "' is not a backing image of '" + device + "'");
        baseIndex = *i;
    }
    if (bottom) {
        if (!ctx.nodes.find(*bottom))
            throw QmpError("Cannot find device='' nor node-name='" + *bottom + "'");
        auto i = findLayer(chain, *bottom, false);
        if (!i)
            throw QmpError("Node '" + *bottom + "' is not in a chain starting from '" + device +
                           "'");
        baseIndex = *i + 1;
    }
    checkNotBusy(ctx, chain, 0, baseIndex, device);
    if (baseIndex >= chain.size() && backingFile)
        throw QmpError("backing file specified, but streaming the entire chain");
    auto q = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(top->image);
    if (!q)
        throw QmpError("Node '" + top->name + "': e2kvm streams into qcow2 images only");
    // The layer whose backing file the top is (streaming into an intermediate layer).
    std::shared_ptr<block::qcow2::Qcow2Driver> overlay;
    for (const auto& n : ctx.nodes.list()) {
        std::vector<ChainLayer> c = chainOf(ctx, n->image);
        for (size_t i = 1; i < c.size() && !overlay; ++i)
            if (c[i].image == top->image)
                overlay = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(c[i - 1].image);
    }
    if (q->readOnly() && !overlay)
        throw QmpError("Block node is read-only");
    if (q->readOnly())
        checkLinksFreezable(ctx, chain, baseIndex, baseFilter != nullptr);
    // A named filter-node-name: QEMU's copy-on-read filter over the top while the job runs
    // (made before the job, as QEMU's; it shows in the node list and is busy with the job).
    std::shared_ptr<block::CopyOnReadFilter> filter;
    if (o.filterNodeName) {
        std::shared_ptr<block::BlockDriver> lastCopied; // QEMU's "bottom" of the filter
        if (baseIndex < chain.size())
            lastCopied = chain[baseIndex - 1].image;
        filter = std::make_shared<block::CopyOnReadFilter>(top->image, lastCopied);
        try {
            ctx.nodes.add(filter, top->image->filename(), "copy-on-read", false, *o.filterNodeName);
        } catch (const std::exception& e) {
            throw QmpError(std::string("Could not create node: ") + e.what());
        }
    }
    std::string id;
    try {
        id = jobIdFor(ctx, o, *top);
    } catch (const QmpError&) {
        if (filter)
            ctx.nodes.remove(*o.filterNodeName);
        throw;
    }

    block::StreamSpec spec;
    spec.id = id;
    spec.top = q;
    if (baseIndex < chain.size()) {
        spec.base = chain[baseIndex].image;
        spec.aboveBase =
            std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(chain[baseIndex - 1].image);
        spec.backingFile = backingFile;
    }
    spec.speed = o.speed;
    spec.onError = o.onError;
    spec.autoFinalize = o.autoFinalize;
    spec.autoDismiss = o.autoDismiss;
    spec.overlay = overlay;
    std::vector<ChainLayer> dropped(
        chain.begin() + 1, chain.begin() + std::ptrdiff_t(std::min(baseIndex, chain.size())));
    vm::BlockNodeTable& nodes = ctx.nodes;
    std::string topName = top->name;
    spec.afterRelink = [&nodes, dropped, topName, top,
                        baseFilter](std::shared_ptr<block::BlockDriver> newTop,
                                    std::shared_ptr<block::BlockDriver> endBase) {
        if (top->image != newTop)
            top->image = newTop; // (not synchronized with QMP readers of the node)
        releaseDroppedLayers(nodes, dropped, topName);
        // The layers in between are no commit filter's parents any more.
        for (const auto& n : nodes.list())
            if (auto f = std::dynamic_pointer_cast<CommitFilter>(n->image))
                f->locked([&] {
                    for (const ChainLayer& l : dropped)
                        f->dropParent(l.image.get());
                });
        // The base the job ended on: the one it started with, or what a commit put there.
        if (endBase)
            for (const auto& n : nodes.list())
                if (n->image == endBase)
                    nodes.setUser(n->name, vm::BlockNodeTable::backingUser(topName), true);
        auto layer = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(newTop);
        if (baseFilter && !baseFilter->retired() && endBase == baseFilter->file() && layer)
            baseFilter->attach({topName, layer});
    };
    if (baseFilter)
        spec.relinkGuard = [baseFilter](const std::function<void()>& relink) {
            baseFilter->locked(relink);
        };
    auto job = std::make_shared<block::StreamJob>(std::move(spec));
    vm::JobUse use;
    use.nodes = tableNodes(chain, 0, baseIndex);
    dropWhenDone(ctx, id, chain, 1, baseIndex);
    if (filter) {
        use.nodes.push_back(*o.filterNodeName);
        ctx.closeWhenJobEnds(id, *o.filterNodeName); // closed first
    }
    ctx.jobs.start(job, use);
    return Json::object();
}

// After an active commit under a filter: the filter node `filterNode` stands over the base
// now (QEMU replaces the committed top by the base in all its parents).
void moveFilterOntoBase(QmpContext& ctx, const std::shared_ptr<vm::BlockNode>& filterNode,
                        const ChainLayer& top, const std::shared_ptr<vm::BlockNode>& base) {
    if (!filterNode)
        return;
    // The user name blockdev-add gives a filter node on the nodes under it.
    const std::string user = "node '" + filterNode->name + "'";
    std::vector<std::string>& children = filterNode->children;
    if (top.node) {
        std::erase(children, top.node->name);
        ctx.nodes.setUser(top.node->name, user, false);
    }
    if (base && std::find(children.begin(), children.end(), base->name) == children.end()) {
        children.push_back(base->name);
        ctx.nodes.setUser(base->name, user, true);
    }
}

// block-commit of the active layer (chain[topIndex]: 0, or the first layer under filters such
// as a throttle node): a job that becomes ready and, on complete, moves the drives from the
// active layer to the base, or the filter right above the top onto the base (the layers from
// the top to the base drop out).
Json startActiveCommit(QmpContext& ctx, const JobOptions& o,
                       const std::shared_ptr<vm::BlockNode>& active,
                       const std::vector<ChainLayer>& chain, size_t topIndex, size_t baseIndex) {
    std::string id = jobIdFor(ctx, o, *active);
    block::ActiveCommitSpec spec;
    spec.id = id;
    spec.top = chain[topIndex].image;
    spec.base = chain[baseIndex].image;
    spec.speed = o.speed;
    spec.onError = o.onError;
    spec.autoFinalize = o.autoFinalize;
    spec.autoDismiss = o.autoDismiss;
    std::vector<ChainLayer> dropped(chain.begin() + std::ptrdiff_t(topIndex),
                                    chain.begin() + std::ptrdiff_t(baseIndex));
    std::shared_ptr<vm::BlockNode> baseTableNode = chain[baseIndex].node;
    std::shared_ptr<block::PassThroughFilter> filterAbove;
    std::shared_ptr<vm::BlockNode> filterNode;
    if (topIndex > 0) {
        filterAbove =
            std::dynamic_pointer_cast<block::PassThroughFilter>(chain[topIndex - 1].image);
        filterNode = chain[topIndex - 1].node;
    }
    QmpContext* c = &ctx;
    // The layers above the base close when the job ends, if it pivoted: a ready job cancelled
    // completes without pivot and leaves the chain as it was (QEMU's block-job-cancel). Those
    // the monitor holds stay until blockdev-del.
    std::vector<std::string> droppedNames = closedAfterCommit(ctx, chain, topIndex, baseIndex);
    spec.pivot = [c, active, dropped, baseTableNode, id, droppedNames, filterAbove,
                  filterNode](std::shared_ptr<block::BlockDriver> newBase,
                              const std::function<void()>& finalSync) {
        for (const std::string& name : droppedNames)
            c->closeWhenJobEnds(id, name);
        bool synced = false;
        auto syncOnce = [&] {
            if (!synced)
                finalSync();
            synced = true;
        };
        std::vector<QmpMachineDisk> disks;
        if (c->machine && !filterAbove)
            disks = c->machine->disks();
        for (const QmpMachineDisk& d : disks)
            if (d.nodeName == active->name && d.handle)
                d.handle->retarget(newBase, syncOnce);
        if (filterAbove) {
            // No request through the filter is under way while the last changes are copied
            // and it moves onto the base.
            block::BlockDriver::ChangesPaused paused(*filterAbove);
            syncOnce();
            filterAbove->replaceFile(newBase);
        }
        syncOnce();
        std::shared_ptr<vm::BlockNode> target = baseTableNode;
        if (target) {
            if (target->image != newBase)
                target->image = newBase; // (not synchronized with QMP readers of the node)
            target->readOnly = false;
            if (dropped.back().node)
                c->nodes.setUser(target->name,
                                 vm::BlockNodeTable::backingUser(dropped.back().node->name), false);
        } else {
            target = c->nodes.add(newBase, newBase->filename(), newBase->formatName(), false, "");
        }
        if (filterAbove)
            moveFilterOntoBase(*c, filterNode, dropped.front(), target);
        for (const QmpMachineDisk& d : disks) {
            if (d.nodeName != active->name)
                continue;
            if (!d.user.empty()) {
                c->nodes.setUser(active->name, d.user, false);
                c->nodes.setUser(target->name, d.user, true);
            }
            c->machine->setDiskNode(d.qomPath.empty() ? d.device : d.qomPath, target->name);
        }
        releaseDroppedLayers(c->nodes, dropped, "");
        releaseStaleBackingUsers(c->nodes, dropped);
    };
    auto job = std::make_shared<block::ActiveCommitJob>(std::move(spec));
    vm::JobUse use;
    use.nodes = tableNodes(chain, 0, baseIndex + 1);
    ctx.jobs.start(job, use);
    return Json::object();
}

Json blockCommit(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string device = a.str("device");
    std::optional<std::string> baseNode = a.optStr("base-node");
    std::optional<std::string> base = a.optStr("base");
    std::optional<std::string> topNode = a.optStr("top-node");
    std::optional<std::string> top = a.optStr("top");
    std::optional<std::string> backingFile = a.optStr("backing-file");
    a.optBool("backing-mask-protocol", false);
    JobOptions o = jobOptions(a);
    a.finish();
    std::shared_ptr<vm::BlockNode> active;
    try {
        active = lookupNode(ctx, device);
    } catch (const QmpError&) {
        throw QmpError("Device '" + device + "' not found", "DeviceNotFound");
    }
    refuseIfJobBusy(ctx, active->name, device);
    // (A filter in the chain, as a throttle node under a snapshot's overlay, is a layer too.)
    std::vector<ChainLayer> chain = chainOf(ctx, active->image, true);
    std::optional<size_t> topIndex = 0;
    if (topNode && top)
        throw QmpError("'top-node' and 'top' are mutually exclusive");
    if (topNode) {
        if (!ctx.nodes.find(*topNode))
            throw QmpError("Cannot find device='' nor node-name='" + *topNode + "'");
        topIndex = findLayer(chain, *topNode, false);
        if (!topIndex)
            throw QmpError("'" + *topNode + "' is not in this backing file chain");
    } else if (top && active->image->filename() != *top) {
        topIndex = findLayer(chain, *top, true);
        if (!topIndex)
            throw QmpError("Top image file " + *top + " not found");
    }
    std::vector<ChainLayer> below(chain.begin() + std::ptrdiff_t(*topIndex), chain.end());
    std::optional<size_t> baseIndex;
    if (baseNode && base)
        throw QmpError("'base-node' and 'base' are mutually exclusive");
    if (baseNode) {
        if (!ctx.nodes.find(*baseNode))
            throw QmpError("Cannot find device='' nor node-name='" + *baseNode + "'");
        baseIndex = findLayer(below, *baseNode, false);
        if (!baseIndex)
            throw QmpError("'" + *baseNode + "' is not in this backing file chain");
    } else if (base) {
        // Below the top only (QEMU looks among the top's backing files).
        baseIndex = findLayer(below, *base, true);
        if (!baseIndex || *baseIndex == 0)
            throw QmpError("Can't find '" + *base + "' in the backing chain");
    } else {
        if (below.size() < 2)
            throw QmpError("There is no backimg image");
        baseIndex = below.size() - 1;
    }
    *baseIndex += *topIndex;
    checkNotBusy(ctx, chain, *topIndex, *baseIndex + 1, device);
    if (*topIndex == *baseIndex)
        throw QmpError("cannot commit an image into itself");
    // The top is the active layer also under filters only (QEMU compares the nodes with their
    // filters skipped).
    bool activeTop = std::all_of(
        chain.begin(), chain.begin() + std::ptrdiff_t(*topIndex), [](const ChainLayer& l) {
            return dynamic_cast<block::PassThroughFilter*>(l.image.get()) != nullptr;
        });
    if (activeTop) {
        if (backingFile)
            throw QmpError("'backing-file' specified, but 'top' is the active layer");
        return startActiveCommit(ctx, o, active, chain, *topIndex, *baseIndex);
    }
    // The top's overlay gets a new backing file name: it must not be busy either.
    if (const auto& above = chain[*topIndex - 1].node) {
        refuseIfJobBusy(ctx, above->name, above->name);
    }
    auto overlay = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(chain[*topIndex - 1].image);
    if (!overlay)
        throw QmpError("The overlay of the top image must be a qcow2 image for e2kvm");
    std::string id = jobIdFor(ctx, o, *active);

    block::CommitSpec spec;
    spec.id = id;
    spec.top = chain[*topIndex].image;
    spec.base = chain[*baseIndex].image;
    spec.overlay = overlay;
    spec.backingFile = backingFile.value_or(spec.base->filename());
    spec.backingFormat = spec.base->formatName();
    spec.speed = o.speed;
    spec.onError = o.onError;
    spec.autoFinalize = o.autoFinalize;
    spec.autoDismiss = o.autoDismiss;
    std::vector<ChainLayer> dropped(chain.begin() + std::ptrdiff_t(*topIndex),
                                    chain.begin() + std::ptrdiff_t(*baseIndex));
    std::shared_ptr<vm::BlockNode> overlayNode = chain[*topIndex - 1].node;
    std::shared_ptr<vm::BlockNode> topTableNode = chain[*topIndex].node;
    std::shared_ptr<vm::BlockNode> baseTableNode = chain[*baseIndex].node;
    vm::BlockNodeTable& nodes = ctx.nodes;
    std::shared_ptr<CommitFilter> filter;
    if (o.filterNodeName)
        filter = std::make_shared<CommitFilter>(spec.top, overlay.get());
    if (filter)
        spec.overlayInChain = [filter] {
            bool inChain = true;
            filter->locked([&] { inChain = !filter->overlayDropped(); });
            return inChain;
        };
    spec.afterRelink = [&nodes, dropped, overlayNode, topTableNode, baseTableNode, filter,
                        name = spec.backingFile,
                        format = spec.backingFormat](std::shared_ptr<block::BlockDriver> newBase) {
        std::string above = overlayNode ? overlayNode->name : std::string();
        releaseDroppedLayers(nodes, dropped, above);
        releaseStaleBackingUsers(nodes, dropped);
        // The layers a stream linked to the filter follow onto the base, header and all.
        if (filter)
            filter->locked([&] {
                for (const CommitFilter::Attached& attached : filter->retire()) {
                    attached.layer->replaceBacking(newBase);
                    try {
                        block::renameBackingFile(*attached.layer, name, format);
                    } catch (const std::exception&) {
                        // The header keeps naming the old top, whose data the base holds too.
                    }
                    std::string user = vm::BlockNodeTable::backingUser(attached.nodeName);
                    if (topTableNode)
                        nodes.setUser(topTableNode->name, user, false);
                    if (baseTableNode)
                        nodes.setUser(baseTableNode->name, user, true);
                }
            });
        if (baseTableNode && dropped.back().node)
            nodes.setUser(baseTableNode->name,
                          vm::BlockNodeTable::backingUser(dropped.back().node->name), false);
        if (baseTableNode) {
            // The base's node shows the instance that holds the committed data. (A plain
            // swap on the job's thread: not synchronized with a QMP command that reads this
            // node at the same moment.)
            if (baseTableNode->image != newBase)
                baseTableNode->image = newBase;
            if (!above.empty())
                nodes.setUser(baseTableNode->name, vm::BlockNodeTable::backingUser(above), true);
        }
    };
    auto job = std::make_shared<block::CommitJob>(std::move(spec));
    if (filter) {
        try {
            ctx.nodes.add(filter, chain[*topIndex].image->filename(), "commit_top", false,
                          *o.filterNodeName);
        } catch (const std::exception& e) {
            // As QEMU's commit, the job exists before its filter node: it ends at once.
            ctx.jobs.failEarly(job);
            throw QmpError(e.what());
        }
    }
    // As QEMU's: the job holds the device's node and the layers from the top to the base (not
    // the overlay, which a stream may still work on).
    vm::JobUse use;
    use.nodes = tableNodes(chain, *topIndex, *baseIndex + 1);
    use.nodes.push_back(active->name);
    for (const std::string& name : closedAfterCommit(ctx, chain, *topIndex, *baseIndex))
        ctx.closeWhenJobEnds(id, name);
    if (filter)
        ctx.closeWhenJobEnds(id, *o.filterNodeName); // closed first
    ctx.jobs.start(job, use);
    return Json::object();
}

} // namespace

void registerChainJobCommands(QmpContext& ctx) {
    ctx.addCommand({"block-stream", blockStream});
    ctx.addCommand({"block-commit", blockCommit});
}

} // namespace e2kvm::qmp

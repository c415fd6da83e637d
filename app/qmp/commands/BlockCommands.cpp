// QMP block node commands: blockdev-add (qcow2, raw, file, null-co, copy-before-write and
// snapshot-access nodes; blkdebug under a format), blockdev-del, query-named-block-nodes,
// query-block.
#include "app/qmp/BlockdevDriverKeys.h"
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/BlockdevTree.h"
#include "app/qmp/commands/InlineChildren.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/qmp/commands/NodeOrder.h"
#include "block/BlockError.h"
#include "block/ImageLock.h"
#include "block/ImageOpen.h"
#include "block/NullImage.h"
#include "block/blkdebug/BlkdebugConfig.h"
#include "block/filter/CopyBeforeWriteFilter.h"
#include "block/filter/SnapshotAccess.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::qmp {

namespace {

// Options every BlockdevOptions accepts: discard and detect-zeroes go to the node (its NBD
// exports follow them); the others we take as given (no effect here).
struct NodeWritePolicy {
    bool forceShare = false; // force-share: opened read-only despite other writers
    bool discardUnmap = false;
    nbd::DetectZeroes detectZeroes = nbd::DetectZeroes::Off;
    void applyTo(vm::BlockNode& node) const {
        node.discardUnmap = discardUnmap;
        node.detectZeroes = detectZeroes;
    }
};

NodeWritePolicy commonOptions(QmpArgs& a) {
    NodeWritePolicy p;
    std::string discard = a.optEnum("discard", {"ignore", "unmap", "off", "on"}).value_or("ignore");
    p.discardUnmap = discard == "unmap" || discard == "on";
    std::string zeroes = a.optEnum("detect-zeroes", {"off", "on", "unmap"}).value_or("off");
    p.detectZeroes = zeroes == "on"      ? nbd::DetectZeroes::On
                     : zeroes == "unmap" ? nbd::DetectZeroes::Unmap
                                         : nbd::DetectZeroes::Off;
    if (p.detectZeroes == nbd::DetectZeroes::Unmap && !p.discardUnmap)
        throw QmpError("setting detect-zeroes to unmap is not allowed without setting discard "
                       "operation to unmap");
    a.optBool("auto-read-only", false);
    p.forceShare = a.optBool("force-share", false);
    if (auto cache = a.optObject("cache")) {
        cache->optBool("direct", false);
        cache->optBool("no-flush", false);
        cache->finish();
    }
    return p;
}

std::string fileOf(QmpContext& ctx, QmpArgs& a, const char* key, std::string* fileNode,
                   std::shared_ptr<block::Blkdebug>* injector);

// A rule value of a blkdebug list as the option text the config file would give.
std::string ruleValue(QmpArgs& rule, const std::string& key) {
    const Json* v = rule.any(key);
    if (v->isString())
        return v->asString();
    if (v->isBool())
        return v->asBool() ? "on" : "off";
    if (v->isInteger())
        return std::to_string(v->asInt());
    rule.typeError(key, "integer");
    return {};
}

// {driver: blkdebug, image: {driver: file, filename} | FILE-NODE, config, inject-error: [...],
// set-state: [...]}: the file under the format, with the injector to put between them.
std::string blkdebugFileOf(QmpContext& ctx, QmpArgs& f, std::string* fileNode,
                           std::shared_ptr<block::Blkdebug>* injector) {
    std::map<std::string, std::string> rules;
    for (const char* list : {"inject-error", "set-state"}) {
        const Json* items = f.any(list);
        if (!items)
            continue;
        if (!items->isArray())
            f.typeError(list, "array");
        for (size_t i = 0; i < items->asArray().size(); ++i) {
            const std::string prefix = std::string(list) + "." + std::to_string(i) + ".";
            const Json& item = items->asArray()[i];
            if (!item.isObject())
                f.typeError(prefix.substr(0, prefix.size() - 1), "object");
            QmpArgs rule(&item, f.path(prefix.substr(0, prefix.size() - 1)));
            for (const auto& [key, value] : item.asObject())
                rules[prefix + key] = ruleValue(rule, key);
        }
    }
    std::string config = f.optStr("config").value_or("");
    f.ignore({"align", "max-transfer", "opt-write-zero", "max-write-zero", "opt-discard",
              "max-discard", "take-child-perms", "unshare-child-perms"});
    std::shared_ptr<block::Blkdebug> below;
    std::string filename = fileOf(ctx, f, "image", fileNode, &below);
    if (below)
        throw QmpError("blkdebug over blkdebug is not supported by e2kvm");
    try {
        *injector = block::makeBlkdebug(config, rules);
    } catch (const block::BlockError& e) {
        throw QmpError(e.what());
    }
    (*injector)->event(block::BlkdebugEvent::None);
    return filename;
}

// The error of a failed open as QMP gives it: a lock conflict is QEMU's one line ('Failed to
// get "write" lock'; the command-line hint "Is another process using the image?" is not part
// of a QMP error), anything else "Could not open 'FILE': why".
std::string openFailure(const std::string& filename, const block::BlockError& e) {
    std::string what = e.what();
    if (block::isImageLockConflict(e))
        return what.substr(0, what.find('\n'));
    return "Could not open '" + filename + "': " + what;
}

// The file name of a "file" BlockdevRef (`key`: "file", or "image" under blkdebug): an inline
// {driver: file, filename}, the name of a file node added before, or an inline blkdebug node
// over one of those (`injector` is then set).
std::string fileOf(QmpContext& ctx, QmpArgs& a, const char* key, std::string* fileNode,
                   std::shared_ptr<block::Blkdebug>* injector) {
    const Json& ref = a.require(key);
    if (ref.isString()) {
        auto it = ctx.fileNodes.find(ref.asString());
        if (it == ctx.fileNodes.end())
            throw QmpError("Cannot find device='" + ref.asString() + "' nor node-name='" +
                           ref.asString() + "'");
        *fileNode = it->first;
        return it->second;
    }
    if (!ref.isObject())
        a.typeError("file", "object");
    QmpArgs f(&ref, a.path(key));
    std::string driver = f.str("driver");
    if (driver == "blkdebug") {
        std::string filename = blkdebugFileOf(ctx, f, fileNode, injector);
        f.optStr("node-name");
        f.optBool("read-only", false);
        commonOptions(f);
        f.finish();
        return filename;
    }
    if (driver != "file")
        throw QmpError("Driver '" + driver + "' is not supported for '" + f.path("driver") +
                       "' (only 'file' and 'blkdebug')");
    std::string filename = f.str("filename");
    if (auto inlineName = f.optStr("node-name"))
        ctx.inlineFileNodes.insert(*inlineName);
    f.optBool("read-only", false);
    f.optEnum("aio", {"threads", "native", "io_uring"});
    f.optEnum("locking", {"off", "on", "auto"});
    commonOptions(f); // the format node's own options are the ones NBD exports follow
    f.finish();
    return filename;
}

// latency-ns: QAPI uint64 (negative numbers pass the QAPI check, as in QEMU), then the driver
// takes it as a signed nanosecond count.
uint64_t nullLatency(QmpArgs& a) {
    const Json* v = a.any("latency-ns");
    if (!v)
        return 0;
    if (!v->isInteger())
        a.typeError("latency-ns", "integer");
    try {
        int64_t ns = v->asInt();
        if (ns < 0)
            throw QmpError("latency-ns is invalid");
        return uint64_t(ns);
    } catch (const JsonError&) {
    }
    try {
        v->asUInt(); // 2^63 .. 2^64-1: negative as the driver sees it
    } catch (const JsonError&) {
        throw QmpError("Parameter '" + a.path("latency-ns") + "' expects uint64");
    }
    throw QmpError("latency-ns is invalid");
}

// blockdev-add driver=null-co: a disk that drops writes and reads zeros (see NullImage).
Json addNullNode(QmpContext& ctx, QmpArgs& a, const std::string& nodeName, bool readOnly,
                 const NodeWritePolicy& policy) {
    block::NullOptions options;
    options.readOnly = readOnly;
    std::optional<int64_t> size = a.optInt("size");
    if (size && *size < 0)
        throw QmpError("Parameter 'size' expects a non-negative number below 2^64");
    if (size)
        options.size = uint64_t(*size);
    const bool readZeroesGiven = a.any("read-zeroes") != nullptr;
    options.readZeroes = a.optBool("read-zeroes", false);
    options.latencyNs = nullLatency(a);
    a.finish();
    if (!vm::BlockNodeTable::validNodeName(nodeName))
        throw QmpError("Invalid node-name: '" + nodeName + "'");
    std::string name =
        block::NullImage::describeOptions(options, size.has_value(), readZeroesGiven);
    std::shared_ptr<block::NullImage> image;
    try {
        image = std::make_shared<block::NullImage>(name, options);
    } catch (const block::BlockError& e) {
        std::string m = e.what();
        if (m.rfind(name + ": ", 0) == 0)
            m.erase(0, name.size() + 2);
        throw QmpError(m);
    }
    try {
        policy.applyTo(*ctx.nodes.add(std::move(image), name, "null-co", readOnly, nodeName));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return Json::object();
}

// A BlockdevRef naming a node a filter stands over: a format node, or (opened as raw) a
// protocol-only file node. `fileNode` is set to the latter's name.
std::shared_ptr<block::BlockDriver> childNode(QmpContext& ctx, QmpArgs& a, const std::string& key,
                                              std::string* fileNode) {
    const Json& ref = a.require(key);
    if (!ref.isString())
        throw QmpError("Parameter '" + a.path(key) +
                       "': e2kvm takes the name of an existing node, not an inline definition");
    const std::string& name = ref.asString();
    if (auto node = ctx.nodes.find(name))
        return node->image;
    auto file = ctx.fileNodes.find(name);
    if (file == ctx.fileNodes.end())
        return lookupNode(ctx, name)->image; // a drive id, or QEMU's "Cannot find" message
    block::OpenOptions options;
    options.format = "raw";
    options.readOnly = false;
    try {
        *fileNode = name;
        return block::openImage(file->second, options);
    } catch (const block::BlockError& e) {
        throw QmpError("Could not open '" + file->second + "': " + e.what());
    }
}

// The user a filter node stands as in the users of the nodes under it.
std::string filterUser(const std::string& filterNode) {
    return "node '" + filterNode + "'";
}

// Adds a filter node and marks the nodes under it as used by it (blockdev-del releases them).
void addFilterNode(QmpContext& ctx, std::shared_ptr<block::BlockDriver> image,
                   const std::string& format, const std::string& nodeName,
                   const std::vector<std::string>& children, const std::string& fileNode) {
    std::shared_ptr<vm::BlockNode> node;
    try {
        node = ctx.nodes.add(image, image->filename(), format, image->readOnly(), nodeName);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    node->children = children;
    for (const std::string& child : children)
        ctx.nodes.setUser(child, filterUser(nodeName), true);
    if (!fileNode.empty())
        ctx.fileNodeUsers[nodeName] = fileNode;
}

// blockdev-add of a tree the block library opens (see BlockdevTree): blkdebug, blkverify,
// compress, and formats over nodes other than a file.
Json addTreeNode(QmpContext& ctx, const Json& args, const std::string& nodeName,
                 const std::string& driver, bool readOnly, const NodeWritePolicy& policy) {
    if (!vm::BlockNodeTable::validNodeName(nodeName))
        throw QmpError("Invalid node-name: '" + nodeName + "'");
    BlockdevTree tree = openBlockdevTree(ctx, args, readOnly);
    addFilterNode(ctx, tree.image, driver, nodeName, tree.children, tree.fileNode);
    if (!tree.rawWindows.empty())
        ctx.rawWindows[nodeName] = tree.rawWindows;
    for (auto [key, table] : {std::pair{"take-child-perms", &ctx.takenChildPermissions},
                              std::pair{"unshare-child-perms", &ctx.unsharedChildPermissions}})
        if (const Json* listed = args.find(key); listed && listed->isArray()) {
            std::vector<std::string>& perms = (*table)[nodeName];
            for (const Json& perm : listed->asArray())
                if (perm.isString())
                    perms.push_back(perm.asString());
        }
    if (auto node = ctx.nodes.find(nodeName))
        policy.applyTo(*node);
    return Json::object();
}

// Whether a qcow2/raw blockdev-add has the file the dedicated path opens: a file node, an
// inline file, or blkdebug over one of those (raw without offset/size); anything else is a
// tree for the block library.
bool plainFormatFile(QmpContext& ctx, const Json& args) {
    if (args.find("offset") || args.find("size"))
        return false;
    auto isFile = [&](const Json* ref) {
        if (!ref)
            return true; // missing: the dedicated path says so
        if (ref->isString())
            return ctx.fileNodes.count(ref->asString()) != 0;
        const Json* driver = ref->isObject() ? ref->find("driver") : nullptr;
        return !driver || !driver->isString() || driver->asString() == "file";
    };
    const Json* file = args.find("file");
    if (file && file->isObject()) {
        const Json* driver = file->find("driver");
        if (driver && driver->isString() && driver->asString() == "blkdebug")
            return isFile(file->find("image"));
    }
    return isFile(file);
}

// blockdev-add driver=copy-before-write: the point in time of `file` kept on `target`.
Json addCopyBeforeWrite(QmpContext& ctx, QmpArgs& a, const std::string& nodeName) {
    std::string ignored, fileNode;
    auto file = childNode(ctx, a, "file", &ignored);
    auto target = childNode(ctx, a, "target", &fileNode);
    std::optional<block::DirtyBitmap> bitmap;
    if (auto b = a.optObject("bitmap")) {
        std::string node = b->str("node");
        std::string name = b->str("name");
        b->finish();
        auto owner = lookupNode(ctx, node);
        block::BitmapCatalog& catalog = bitmapCatalog(*owner);
        std::optional<block::NamedBitmap> found = catalog.find(name);
        if (!found)
            throw QmpError("Dirty bitmap '" + name + "' not found");
        if (auto contents = catalog.usable(name))
            bitmap.emplace(*contents);
    }
    std::string onError =
        a.optEnum("on-cbw-error", {"break-guest-write", "break-snapshot"}).value_or("");
    std::optional<uint64_t> timeout = a.optUInt("cbw-timeout");
    a.finish();
    if (timeout && *timeout > UINT32_MAX)
        throw QmpError("Parameter 'cbw-timeout' expects uint32_t");
    if (timeout && *timeout != 0)
        // Copies run synchronously before the write here; there is nothing to time out.
        throw QmpError("cbw-timeout: e2kvm copies before writes without a time limit");
    if (!vm::BlockNodeTable::validNodeName(nodeName))
        throw QmpError("Invalid node-name: '" + nodeName + "'");
    std::vector<std::string> children;
    for (const auto& n : ctx.nodes.list())
        if (n->image == file || n->image == target)
            children.push_back(n->name);
    std::shared_ptr<block::CopyBeforeWriteFilter> filter;
    try {
        filter = std::make_shared<block::CopyBeforeWriteFilter>(
            file, target, bitmap ? &*bitmap : nullptr,
            onError == "break-snapshot" ? block::OnCbwError::BreakSnapshot
                                        : block::OnCbwError::BreakGuestWrite);
    } catch (const block::BlockError& e) {
        throw QmpError(e.what());
    }
    addFilterNode(ctx, filter, "copy-before-write", nodeName, children, fileNode);
    return Json::object();
}

// blockdev-add driver=snapshot-access: reads the point in time of a copy-before-write node.
Json addSnapshotAccess(QmpContext& ctx, QmpArgs& a, const std::string& nodeName) {
    std::string fileName = a.str("file");
    a.finish();
    auto node = lookupNode(ctx, fileName);
    auto filter = std::dynamic_pointer_cast<block::CopyBeforeWriteFilter>(node->image);
    if (!filter)
        throw QmpError("snapshot-access: node '" + node->name +
                       "' is not a copy-before-write filter");
    if (!vm::BlockNodeTable::validNodeName(nodeName))
        throw QmpError("Invalid node-name: '" + nodeName + "'");
    addFilterNode(ctx, std::make_shared<block::SnapshotAccess>(filter), "snapshot-access", nodeName,
                  {node->name}, "");
    return Json::object();
}

bool sameFile(const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

// Whether a format node of the table reads the file node `fileNode` already.
bool fileNodeInUse(const QmpContext& ctx, const std::string& fileNode) {
    for (const auto& [format, file] : ctx.fileNodeUsers)
        if (file == fileNode)
            return true;
    return false;
}

// A raw node over a file node another format node reads: in QEMU both are parents of the one
// file node, whose image locks they share; here the raw node opens the file without locks of
// its own (the other node holds them).
Json addRawOverSharedFile(QmpContext& ctx, const std::string& filename, const std::string& fileNode,
                          const std::string& nodeName, bool readOnly,
                          const NodeWritePolicy& policy) {
    block::OpenOptions options;
    options.format = "raw";
    options.readOnly = readOnly;
    options.locking = false;
    std::shared_ptr<block::BlockDriver> image;
    try {
        image = block::openImage(filename, options);
    } catch (const block::BlockError& e) {
        throw QmpError(openFailure(filename, e));
    }
    try {
        policy.applyTo(*ctx.nodes.add(std::move(image), filename, "raw", readOnly, nodeName));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    ctx.fileNodeUsers[nodeName] = fileNode;
    return Json::object();
}

// blockdev-add of one node whose children are given by reference or unnamed inline.
Json addOneNode(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string driver = a.str("driver");
    std::optional<std::string> nodeName = a.optStr("node-name");
    bool readOnly = a.optBool("read-only", false);
    NodeWritePolicy policy = commonOptions(a);
    if (!nodeName)
        throw QmpError("'node-name' must be specified for the root node");
    if (policy.forceShare && !readOnly)
        throw QmpError("force-share=on can only be used with read-only images");
    if (ctx.nodes.find(*nodeName) || ctx.fileNodes.count(*nodeName))
        throw QmpError("Duplicate nodes with node-name='" + *nodeName + "'");

    if (driver == "file") {
        std::string filename = a.str("filename");
        a.optEnum("aio", {"threads", "native", "io_uring"});
        a.optEnum("locking", {"off", "on", "auto"});
        a.finish();
        if (access(filename.c_str(), F_OK) != 0)
            throw QmpError("Could not open '" + filename + "': " + std::strerror(errno));
        // Validate the name the way a format node would.
        if (!vm::BlockNodeTable::validNodeName(*nodeName))
            throw QmpError("Invalid node-name: '" + *nodeName + "'");
        ctx.fileNodes[*nodeName] = filename;
        ctx.nodes.noteOutsideNodeCreated(*nodeName);
        return Json::object();
    }
    if (driver == "null-co")
        return addNullNode(ctx, a, *nodeName, readOnly, policy);
    if (driver == "copy-before-write")
        return addCopyBeforeWrite(ctx, a, *nodeName);
    if (driver == "snapshot-access")
        return addSnapshotAccess(ctx, a, *nodeName);
    if (opensAsBlockdevTree(driver) ||
        ((driver == "qcow2" || driver == "raw") && !plainFormatFile(ctx, *args)))
        return addTreeNode(ctx, *args, *nodeName, driver, readOnly, policy);
    if (driver != "qcow2" && driver != "raw")
        throw QmpError("Driver '" + driver + "' is not supported by e2kvm (" + blockDriverNames() +
                       ")");

    std::string fileNode;
    std::shared_ptr<block::Blkdebug> injector;
    std::string filename = fileOf(ctx, a, "file", &fileNode, &injector);
    std::shared_ptr<block::BlockDriver> backingImage;
    bool noBacking = false;
    if (driver == "qcow2") {
        if (const Json* backing = a.any("backing")) {
            if (backing->isNull())
                noBacking = true;
            else if (backing->isString())
                backingImage = lookupNode(ctx, backing->asString())->image;
            else if (backing->isObject())
                // Unnamed inline (named ones are nodes by now): read-only, as QEMU opens a
                // backing file.
                backingImage = openBlockdevTree(ctx, *backing, true).image;
            else
                a.typeError("backing", "object");
        }
        a.optBool("lazy-refcounts", false);
        a.ignore({"pass-discard-request", "pass-discard-snapshot", "pass-discard-other",
                  "overlap-check", "cache-size", "l2-cache-size", "l2-cache-entry-size",
                  "refcount-cache-size", "cache-clean-interval"});
    }
    a.finish();

    if (driver == "raw" && !fileNode.empty() && !injector && fileNodeInUse(ctx, fileNode))
        return addRawOverSharedFile(ctx, filename, fileNode, *nodeName, readOnly, policy);
    // Also nodes opened over another node, which findByFile does not know.
    for (const auto& other : ctx.nodes.list())
        if (sameFile(other->file, filename))
            throw QmpError("Failed to get \"write\" lock: '" + filename +
                           "' is already open as node '" + other->name + "'");
    if (backingImage || noBacking || injector) {
        if (::access(filename.c_str(), F_OK) != 0)
            throw QmpError("Could not open '" + filename + "': " + std::strerror(errno));
        // The backing file is a node that is open already (a fleecing overlay of a running
        // disk), or none at all; or an error injector sits under the format.
        block::OpenOptions options;
        options.blkdebug = injector;
        options.format = driver;
        options.readOnly = readOnly;
        options.forceShare = policy.forceShare;
        options.openBacking = !noBacking;
        options.backingNode = backingImage;
        std::shared_ptr<block::BlockDriver> image;
        try {
            image = block::openImage(filename, options);
        } catch (const block::BlockError& e) {
            throw QmpError(openFailure(filename, e));
        }
        try {
            policy.applyTo(*ctx.nodes.add(std::move(image), filename, driver, readOnly, *nodeName));
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
        if (!fileNode.empty())
            ctx.fileNodeUsers[*nodeName] = fileNode;
        return Json::object();
    }
    try {
        policy.applyTo(*ctx.nodes.open(filename, driver, readOnly, *nodeName, policy.forceShare));
    } catch (const block::BlockError& e) {
        throw QmpError(openFailure(filename, e));
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    if (!fileNode.empty())
        ctx.fileNodeUsers[*nodeName] = fileNode;
    return Json::object();
}

const std::string jobPrefix = "block job: ", backingPrefix = "backing of node '";

// QEMU's blockers on deleting a node of the table, newest first: a mirror's on its source, an
// overlay's on its backing node (a backup works through a filter above the node: that node is
// merely in use).
void checkNotBusy(QmpContext& ctx, const std::string& name) {
    std::vector<std::string> users = ctx.nodes.users(name);
    for (const std::string& u : users)
        if (u.rfind(jobPrefix, 0) == 0 && u != jobPrefix + "backup")
            throw QmpError("Node '" + name + "' is busy: block device is in use by " + u);
    for (const std::string& u : users)
        if (u.rfind(backingPrefix, 0) == 0)
            throw QmpError("Node '" + name + "' is busy: node is used as backing hd of '" +
                           u.substr(backingPrefix.size()));
}

// Removes the node `name` alone: a file node or one of the table.
void deleteOneNode(QmpContext& ctx, const std::string& name) {
    if (ctx.fileNodes.count(name)) {
        for (const auto& [format, file] : ctx.fileNodeUsers)
            if (file == name)
                throw QmpError("Node " + name + " is in use");
        if (ctx.nodes.find(name)) { // opened for an export (commands/NbdCommands)
            if (!ctx.nodes.users(name).empty())
                throw QmpError("Node " + name + " is in use");
            ctx.nodes.remove(name);
        }
        ctx.fileNodes.erase(name);
        ctx.nodes.forgetOutsideNode(name);
        ctx.readOnlyFileNodes.erase(name);
        ctx.nodeOptions.erase(name);
        return;
    }
    auto node = ctx.nodes.find(name);
    if (!node)
        throw QmpError("Failed to find node with node-name='" + name + "'");
    std::vector<std::string> users = ctx.nodes.users(name);
    // A device or drive on the node comes first; then QEMU's blockers.
    for (const std::string& u : users)
        if (u.rfind(jobPrefix, 0) != 0 && u.rfind(backingPrefix, 0) != 0)
            throw QmpError("Node " + name + " is in use");
    checkNotBusy(ctx, name);
    if (!users.empty())
        throw QmpError("Node " + name + " is in use");
    try {
        ctx.nodes.remove(name);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    for (const std::string& child : node->children)
        ctx.nodes.setUser(child, filterUser(name), false);
    ctx.fileNodeUsers.erase(name);
    ctx.takenChildPermissions.erase(name);
    ctx.unsharedChildPermissions.erase(name);
    ctx.nodeOptions.erase(name);
    ctx.rawWindows.erase(name);
}

// Removes the node `name` (a file node or one of the table), then the nodes made of its named
// inline children.
void deleteNode(QmpContext& ctx, const std::string& name) {
    deleteOneNode(ctx, name);
    auto inlineChildren = ctx.inlineChildNodes.find(name);
    if (inlineChildren == ctx.inlineChildNodes.end())
        return;
    std::vector<std::string> children = std::move(inlineChildren->second);
    ctx.inlineChildNodes.erase(inlineChildren);
    for (auto it = children.rbegin(); it != children.rend(); ++it) {
        try {
            deleteNode(ctx, *it);
        } catch (const QmpError&) {
            // Still used by another node: it stays (QEMU keeps a node while it has a parent).
        }
    }
}

// Remembers the options a node was added with, for blockdev-reopen.
void rememberOptions(QmpContext& ctx, const Json& args) {
    if (const Json* name = args.find("node-name"); name && name->isString())
        ctx.nodeOptions[name->asString()] = args;
}

Json blockdevAdd(QmpContext& ctx, const Json* args) {
    if (!args || !args->isObject())
        return addOneNode(ctx, args);
    HoistedChildren hoisted = hoistNamedChildren(
        *args, [&](const Json& child) { blockdevAdd(ctx, &child); },
        [&](const std::string& child) { deleteNode(ctx, child); });
    if (hoisted.added.empty()) {
        addOneNode(ctx, args);
        rememberOptions(ctx, *args);
        return Json::object();
    }
    try {
        addOneNode(ctx, &hoisted.options);
    } catch (...) {
        for (auto it = hoisted.added.rbegin(); it != hoisted.added.rend(); ++it) {
            try {
                deleteNode(ctx, *it);
            } catch (const QmpError&) {
            }
        }
        throw;
    }
    ctx.inlineChildNodes[hoisted.options.find("node-name")->asString()] = hoisted.added;
    rememberOptions(ctx, *args);
    return Json::object();
}

Json blockdevDel(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string name = a.str("node-name");
    a.finish();
    for (const auto& [parent, children] : ctx.inlineChildNodes)
        if (std::find(children.begin(), children.end(), name) != children.end()) {
            if (ctx.nodes.find(name))
                checkNotBusy(ctx, name);
            throw QmpError("Node " + name + " is not owned by the monitor");
        }
    deleteNode(ctx, name);
    return Json::object();
}

// BlockDeviceInfo of a protocol-only file node.
Json fileNodeInfo(QmpContext& ctx, const std::string& name, const std::string& file) {
    Json info = Json::object({{"file", file},
                              {"node-name", name},
                              {"ro", ctx.readOnlyFileNodes.count(name) != 0},
                              {"drv", "file"},
                              {"backing_file_depth", 0},
                              {"encrypted", false},
                              {"detect_zeroes", "off"}});
    for (const char* k : {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"})
        info.set(k, 0);
    info.set("write_threshold", 0);
    // The file as it is now (a protocol node has no format layer to ask); QEMU counts
    // its length in whole 512-byte sectors.
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0)
        info.set("image", Json::object({{"virtual-size", (uint64_t(st.st_size) + 511) / 512 * 512},
                                        {"filename", file},
                                        {"format", "file"},
                                        {"actual-size", uint64_t(st.st_blocks) * 512},
                                        {"dirty-flag", false}}));
    info.set("cache", Json::object({{"writeback", true}, {"direct", false}, {"no-flush", false}}));
    return info;
}

// The nodes newest first, as QEMU lists them.
Json queryNamedBlockNodes(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    a.optBool("flat", false);
    a.finish();
    Json list = Json::array();
    std::vector<OrderedNode> nodes = nodesInCreationOrder(ctx);
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it)
        list.push(it->fileNode ? fileNodeInfo(ctx, it->name, ctx.fileNodes.at(it->name))
                               : blockDeviceInfo(ctx, *it->node));
    return list;
}

// A throttled drive's limits in query-block's "inserted", as QEMU names them: the rates
// always, the bursts and their lengths when a burst is set, iops_size when set, the group.
void addThrottleInfo(Json& inserted, const block::ThrottleLimits& limits,
                     const std::string& group) {
    static const char* const names[] = {"bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr"};
    for (size_t k = 0; k < block::kThrottleKinds; ++k) {
        const block::ThrottleLimit& l = limits.limit[k];
        inserted.set(names[k], l.avg);
        if (l.max) {
            inserted.set(std::string(names[k]) + "_max", l.max);
            inserted.set(std::string(names[k]) + "_max_length", l.maxLength);
        }
    }
    if (limits.iopsSize)
        inserted.set("iops_size", limits.iopsSize);
    inserted.set("group", group);
}

Json queryBlock(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json list = Json::array();
    if (!ctx.machine)
        return list;
    for (const QmpMachineDisk& d : ctx.machine->disks()) {
        // As QEMU: a drive no device uses has no I/O status and no tray.
        const bool hasDevice = !d.qdev.empty();
        Json info =
            Json::object({{"device", d.device}, {"locked", false}, {"removable", d.removable}});
        if (hasDevice)
            info.set("io-status", "ok");
        if (auto node = ctx.nodes.find(d.nodeName)) {
            Json inserted = blockDeviceInfo(ctx, *node);
            inserted.set("cache", Json::object({{"writeback", d.writeback},
                                                {"direct", d.direct},
                                                {"no-flush", d.noFlush}}));
            if (d.throttleGroup)
                addThrottleInfo(inserted, d.throttleGroup->limits(), d.throttleGroupName);
            info.set("inserted", std::move(inserted));
        }
        if (!d.qdev.empty())
            info.set("qdev", d.qdev);
        if (d.removable && hasDevice)
            info.set("tray_open", d.trayOpen);
        info.set("type", "unknown");
        list.push(std::move(info));
    }
    return list;
}

// block_resize: a node (by drive id or node name) grows or shrinks to `size` bytes; not while a
// job uses it.
Json blockResize(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::optional<std::string> device = a.optStr("device");
    std::optional<std::string> nodeName = a.optStr("node-name");
    std::optional<int64_t> size = a.optInt("size");
    if (!size)
        a.require("size");
    a.finish();
    std::shared_ptr<vm::BlockNode> node;
    if (device) {
        try {
            node = lookupNode(ctx, *device);
        } catch (const QmpError&) {
        }
        if (node && ctx.nodes.find(*device) && ctx.machine) {
            // QEMU looks a "device" up among the drives only.
            bool isDrive = false;
            for (const QmpMachineDisk& d : ctx.machine->disks())
                isDrive = isDrive || d.device == *device;
            if (!isDrive)
                node = nullptr;
        }
    }
    if (!node && nodeName)
        node = ctx.nodes.find(*nodeName);
    if (!node)
        throw QmpError("Cannot find device='" + device.value_or("") + "' nor node-name='" +
                       nodeName.value_or("") + "'");
    if (*size < 0)
        throw QmpError("Parameter 'size' expects a >0 size");
    refuseIfJobBusy(ctx, node->name, device ? *device : node->name);
    if (node->readOnly)
        throw QmpError("Node '" + node->name + "' is read only");
    try {
        node->image->truncate(uint64_t(*size));
    } catch (const std::exception& e) {
        throw QmpError(blockMessage(*node, e));
    }
    return Json::object();
}

// x-blockdev-set-iothread: e2kvm serves every node from its own threads, so moving a node to
// an iothread changes nothing; the node must exist, as in QEMU.
Json setIothread(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string name = a.str("node-name");
    const Json& thread = a.require("iothread");
    if (!thread.isString() && !thread.isNull())
        a.typeError("iothread", "string");
    a.optBool("force", false);
    a.finish();
    if (!ctx.nodes.find(name))
        throw QmpError("Cannot find node " + name);
    return Json::object();
}

} // namespace

void registerBlockCommands(QmpContext& ctx) {
    ctx.addCommand({"x-blockdev-set-iothread", setIothread});
    ctx.addCommand({"blockdev-add", blockdevAdd});
    ctx.addCommand({"block_resize", blockResize});
    ctx.addCommand({"blockdev-del", blockdevDel});
    ctx.addCommand({"query-named-block-nodes", queryNamedBlockNodes});
    ctx.addCommand({"query-block", queryBlock});
}

} // namespace e2kvm::qmp

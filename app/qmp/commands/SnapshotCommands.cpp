// QMP external snapshots and backing file names: blockdev-snapshot-sync (a new qcow2 overlay
// file over a node, which the node's drives use from then on), blockdev-snapshot (an existing
// node without backing file becomes the overlay), change-backing-file; with QEMU 7.2's
// checks and wording.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/ChainLookup.h"
#include "app/qmp/commands/NodeLookup.h"
#include "app/qmp/commands/SnapshotAction.h"
#include "block/ImageOpen.h"
#include "block/job/MirrorJob.h"
#include "block/qcow2/Qcow2Driver.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sys/stat.h>

namespace e2kvm::qmp {

namespace {

// The line qemu-img create prints (QEMU prints it for a snapshot file too).
void printFormatting(const std::string& file, const block::CreateOptions& o) {
    std::string line = "Formatting '" + file +
                       "', fmt=qcow2 cluster_size=65536 extended_l2=off compression_type=zlib "
                       "size=" +
                       std::to_string(o.size);
    if (!o.backingFile.empty())
        line += " backing_file=" + o.backingFile + " backing_fmt=" + o.backingFormat;
    line += " lazy_refcounts=off refcount_bits=16\n";
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

// The checks of QEMU's external snapshot for an overlay node, then the link. Returns what
// takes it back. The old active layer becomes read-only at once, or, in a transaction
// (`commitSteps` given), by a step run when every action is done (QEMU reopens it in the
// transaction's commit: the actions after the snapshot may still change its bitmaps).
std::function<void()> appendOverlay(QmpContext& ctx, const std::shared_ptr<vm::BlockNode>& old,
                                    const std::shared_ptr<vm::BlockNode>& overlay,
                                    std::vector<std::function<void()>>* commitSteps) {
    for (const block::BlockDriver* b = old->image.get(); b; b = b->backing())
        if (b == overlay->image.get())
            throw QmpError("Making '" + old->name + "' a backing child of '" + overlay->name +
                           "' would create a cycle");
    auto q = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(overlay->image);
    if (!q)
        throw QmpError("The overlay does not support backing images");
    if (overlay->image->size() != old->image->size() && ctx.machine) {
        // A drive's device keeps its size; QEMU refuses too (the BlockBackend's resize perm).
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.nodeName == old->name && d.handle)
                throw QmpError("Cannot append an overlay of a different size to '" + old->name +
                               "'");
    }
    q->replaceBacking(old->image);
    ctx.nodes.setUser(old->name, vm::BlockNodeTable::backingUser(overlay->name), true);
    try {
        moveDrives(ctx, *old, *overlay);
    } catch (const std::exception& e) {
        ctx.nodes.setUser(old->name, vm::BlockNodeTable::backingUser(overlay->name), false);
        q->replaceBacking(nullptr);
        throw QmpError(e.what());
    }
    const bool wasReadOnly = old->readOnly;
    // As QEMU reopens the old layer (a file node shows it as a file node).
    const bool fileNode = ctx.fileNodes.count(old->name) != 0;
    const bool fileNodeWasReadOnly = ctx.readOnlyFileNodes.count(old->name) != 0;
    QmpContext* c = &ctx;
    auto reopenReadOnly = [c, old, fileNode] {
        old->readOnly = true;
        if (fileNode)
            c->readOnlyFileNodes.insert(old->name);
    };
    if (commitSteps)
        commitSteps->push_back(reopenReadOnly);
    else
        reopenReadOnly();
    return [c, old, overlay, q, wasReadOnly, fileNodeWasReadOnly] {
        moveDrives(*c, *overlay, *old);
        c->nodes.setUser(old->name, vm::BlockNodeTable::backingUser(overlay->name), false);
        q->replaceBacking(nullptr);
        old->readOnly = wasReadOnly;
        if (!fileNodeWasReadOnly)
            c->readOnlyFileNodes.erase(old->name);
    };
}

// What both commands check of the node to take a snapshot of.
void checkSnapshotSource(QmpContext& ctx, const vm::BlockNode& old, const std::string& label) {
    refuseIfJobBusy(ctx, old.name, label);
    if (!old.readOnly) {
        try {
            old.image->flush();
        } catch (const std::exception&) {
            throw QmpError("Input/output error");
        }
    }
}

// blockdev-snapshot-sync of a protocol-only file node (QEMU's "file" driver): the overlay is
// created over the file (its length in whole sectors, backing format "file") and opened, but
// nothing would use it: a file node here has no parents to move onto it (the format nodes that
// read one are refused), and in QEMU an overlay no parent holds is dropped when the action
// ends. What stays is the file and the file node, read-only from then on (QEMU reopens it).
std::function<void()> snapshotOfFileNode(QmpContext& ctx, const std::string& fileNode,
                                         const std::string& fileName, const std::string& overlay,
                                         const std::string& overlayNode, const std::string& format,
                                         bool createOverlay,
                                         std::vector<std::function<void()>>* commitSteps) {
    for (const auto& [formatNode, file] : ctx.fileNodeUsers)
        if (file == fileNode)
            throw QmpError("e2kvm cannot put an overlay under format node '" + formatNode +
                           "' (it reads file node '" + fileNode + "')");
    if (format != "qcow2")
        throw QmpError("Driver '" + format +
                       "' does not support backing files (e2kvm makes qcow2 overlays)");
    if (createOverlay) {
        struct stat st {};
        if (::stat(fileName.c_str(), &st) != 0)
            throw QmpError("Could not open '" + fileName + "': " + std::strerror(errno));
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = (uint64_t(st.st_size) + 511) / 512 * 512; // QEMU's length: whole sectors
        o.sizeGiven = true;
        o.backingFile = fileName;
        o.backingFormat = "file";
        try {
            block::createImage(overlay, o);
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
        printFormatting(overlay, o);
    }
    if (!vm::BlockNodeTable::validNodeName(overlayNode))
        throw QmpError("Invalid node-name: '" + overlayNode + "'");
    block::OpenOptions o;
    o.format = format;
    o.readOnly = false;
    o.openBacking = false;
    try {
        block::openImage(overlay, o); // closed again at once: nothing holds it
    } catch (const std::exception& e) {
        throw QmpError("Could not open '" + overlay + "': " + e.what());
    }
    const bool wasReadOnly = ctx.readOnlyFileNodes.count(fileNode) != 0;
    QmpContext* c = &ctx;
    auto reopenReadOnly = [c, fileNode] { c->readOnlyFileNodes.insert(fileNode); };
    if (commitSteps)
        commitSteps->push_back(reopenReadOnly);
    else
        reopenReadOnly();
    return [c, fileNode, wasReadOnly] {
        if (!wasReadOnly)
            c->readOnlyFileNodes.erase(fileNode);
    };
}

std::function<void()> blockdevSnapshotSync(QmpContext& ctx, QmpArgs& a,
                                           std::vector<std::function<void()>>* commitSteps) {
    std::optional<std::string> device = a.optStr("device");
    std::optional<std::string> nodeName = a.optStr("node-name");
    std::string file = a.str("snapshot-file");
    std::optional<std::string> snapshotNodeName = a.optStr("snapshot-node-name");
    std::string format = a.optStr("format").value_or("qcow2");
    std::string mode = a.optEnum("mode", {"existing", "absolute-paths"}).value_or("absolute-paths");
    a.finish();
    std::shared_ptr<vm::BlockNode> old;
    if (device)
        try {
            old = lookupNode(ctx, *device);
        } catch (const QmpError&) {
        }
    if (!old && nodeName)
        old = ctx.nodes.find(*nodeName);
    if (!old && nodeName && ctx.fileNodes.count(*nodeName)) {
        if (!snapshotNodeName)
            throw QmpError("New overlay node-name missing");
        if (ctx.nodes.find(*snapshotNodeName) || ctx.fileNodes.count(*snapshotNodeName))
            throw QmpError("New overlay node-name already in use");
        return snapshotOfFileNode(ctx, *nodeName, ctx.fileNodes.at(*nodeName), file,
                                  *snapshotNodeName, format, mode != "existing", commitSteps);
    }
    if (!old)
        throw QmpError("Cannot find device='" + device.value_or("") + "' nor node-name='" +
                       nodeName.value_or("") + "'");
    checkSnapshotSource(ctx, *old, device.value_or(old->name));
    if (nodeName && !snapshotNodeName)
        throw QmpError("New overlay node-name missing");
    if (snapshotNodeName &&
        (ctx.nodes.find(*snapshotNodeName) || ctx.fileNodes.count(*snapshotNodeName)))
        throw QmpError("New overlay node-name already in use");
    if (format != "qcow2")
        throw QmpError("Driver '" + format +
                       "' does not support backing files (e2kvm makes "
                       "qcow2 overlays)");
    if (mode != "existing") {
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = old->image->size();
        o.sizeGiven = true;
        o.backingFile = old->image->filename();
        o.backingFormat = old->format;
        try {
            block::createImage(file, o);
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
        printFormatting(file, o);
    }
    std::string name = snapshotNodeName.value_or("");
    if (!name.empty() && !vm::BlockNodeTable::validNodeName(name))
        throw QmpError("Invalid node-name: '" + name + "'");
    block::OpenOptions o;
    o.format = format;
    o.readOnly = false;
    o.openBacking = false;
    std::shared_ptr<block::BlockDriver> image;
    try {
        image = block::openImage(file, o);
    } catch (const std::exception& e) {
        throw QmpError("Could not open '" + file + "': " + e.what());
    }
    std::shared_ptr<vm::BlockNode> overlay;
    try {
        overlay = ctx.nodes.add(image, file, format, false, name.empty() ? std::string() : name);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    std::function<void()> undoLink;
    try {
        undoLink = appendOverlay(ctx, old, overlay, commitSteps);
    } catch (...) {
        ctx.nodes.remove(overlay->name);
        throw;
    }
    QmpContext* c = &ctx;
    return [c, undoLink, overlay] {
        undoLink();
        try {
            c->nodes.remove(overlay->name);
        } catch (const std::exception&) {
            // Used meanwhile: it stays until blockdev-del.
        }
    };
}

// Whether the only users of `overlay` that read it (besides overlays above it) are mirrors
// writing it as their target: QEMU lets a backing file be attached to a node nobody reads as
// a consistent image yet (iotest 155 attaches a mirror target's chain so, before completion).
bool onlyMirrorTarget(QmpContext& ctx, const vm::BlockNode& overlay) {
    if (ctx.machine)
        for (const QmpMachineDisk& d : ctx.machine->disks())
            if (d.nodeName == overlay.name)
                return false;
    bool mirrored = false;
    for (const auto& job : ctx.jobs.list())
        if (auto mirror = std::dynamic_pointer_cast<block::MirrorJob>(job))
            if (mirror->spec().target == overlay.image && mirror->spec().source != overlay.image)
                mirrored = true;
    if (!mirrored)
        return false;
    for (const std::string& user : ctx.nodes.users(overlay.name))
        if (user.rfind("backing of node '", 0) != 0 && user != "block job: mirror")
            return false;
    return true;
}

// blockdev-snapshot proper: the checks of the node and the overlay, then the link.
std::function<void()> snapshotOnto(QmpContext& ctx, const std::string& nodeArg,
                                   const std::string& overlayArg,
                                   std::vector<std::function<void()>>* commitSteps) {
    auto old = lookupNode(ctx, nodeArg);
    checkSnapshotSource(ctx, *old, nodeArg);
    std::shared_ptr<vm::BlockNode> overlay = ctx.nodes.find(overlayArg);
    if (!overlay) {
        auto file = ctx.fileNodes.find(overlayArg);
        if (file != ctx.fileNodes.end()) {
            for (const auto& [format, f] : ctx.fileNodeUsers)
                if (f == overlayArg)
                    throw QmpError("The overlay is already in use");
            throw QmpError("The overlay does not support backing images");
        }
        if (!ctx.nodes.find(overlayArg) && ctx.inlineFileNodes.count(overlayArg))
            throw QmpError("The overlay is already in use");
        overlay = lookupNode(ctx, overlayArg);
    }
    if (layerInUse(ctx, *overlay) && !onlyMirrorTarget(ctx, *overlay))
        throw QmpError("The overlay is already in use");
    if (overlay->format == "copy-before-write" || overlay->format == "snapshot-access")
        throw QmpError("Filters cannot be used as overlays");
    if (overlay->image->backing())
        throw QmpError("The overlay already has a backing image");
    return appendOverlay(ctx, old, overlay, commitSteps);
}

// The table node a protocol-only file node is read through once it becomes the backing of an
// overlay: the file opened raw under the file node's name, read-only as QEMU reopens it.
// Returns whether it was opened here.
bool openFileNodeAsBacking(QmpContext& ctx, const std::string& name) {
    auto file = ctx.fileNodes.find(name);
    if (file == ctx.fileNodes.end() || ctx.nodes.find(name))
        return false;
    for (const auto& [formatNode, fileNode] : ctx.fileNodeUsers)
        if (fileNode == name)
            throw QmpError("e2kvm cannot put an overlay under format node '" + formatNode +
                           "' (it reads file node '" + name + "')");
    block::OpenOptions options;
    options.format = "raw";
    options.readOnly = true;
    try {
        std::shared_ptr<block::BlockDriver> image = block::openImage(file->second, options);
        ctx.nodes.add(std::move(image), file->second, "file", true, name);
    } catch (const std::exception& e) {
        throw QmpError("Could not open '" + file->second + "': " + e.what());
    }
    return true;
}

std::function<void()> blockdevSnapshot(QmpContext& ctx, QmpArgs& a,
                                       std::vector<std::function<void()>>* commitSteps) {
    std::string nodeArg = a.str("node");
    std::string overlayArg = a.str("overlay");
    a.finish();
    const bool openedHere = openFileNodeAsBacking(ctx, nodeArg);
    try {
        std::function<void()> undo = snapshotOnto(ctx, nodeArg, overlayArg, commitSteps);
        if (!openedHere)
            return undo;
        QmpContext* c = &ctx;
        return [c, undo, nodeArg] {
            undo();
            try {
                c->nodes.remove(nodeArg);
            } catch (const std::exception&) {
                // Used meanwhile (an export): it stays open for that user.
            }
        };
    } catch (...) {
        if (openedHere)
            ctx.nodes.remove(nodeArg);
        throw;
    }
}

// change-backing-file: the name a layer's header records for its backing file (the chain
// itself stays as it is). The layer is one of the chain of the device's node.
Json changeBackingFile(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string device = a.str("device");
    std::string imageNodeName = a.str("image-node-name");
    std::string backingFile = a.str("backing-file");
    a.finish();
    auto top = lookupNode(ctx, device);
    auto image = ctx.nodes.find(imageNodeName);
    if (!image)
        throw QmpError("Cannot find device='' nor node-name='" + imageNodeName + "'");
    if (!image->image->backing())
        throw QmpError("not allowing backing file change on an image without a backing file");
    refuseIfJobBusy(ctx, top->name, device);
    std::vector<ChainLayer> chain = chainOf(ctx, top->image);
    auto at = findLayer(chain, imageNodeName, false);
    if (!at)
        throw QmpError("'" + device + "' and image file are not in the same chain");
    auto q = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(image->image);
    if (!q)
        throw QmpError("Could not change backing file to '" + backingFile +
                       "': Operation not supported");
    const std::string format = image->image->backing()->formatName();
    try {
        if (q->readOnly()) {
            // QEMU reopens a read-only layer read-write for the change and then read-only
            // again; here an instance of the file opened writable for it rewrites the header.
            block::OpenOptions open;
            open.format = q->formatName();
            open.readOnly = false;
            open.locking = false; // the layer's own instance holds the file's locks
            open.openBacking = false;
            std::unique_ptr<block::BlockDriver> writer = block::openImage(q->filename(), open);
            auto* w = dynamic_cast<block::qcow2::Qcow2Driver*>(writer.get());
            if (!w)
                throw QmpError("Could not change backing file to '" + backingFile +
                               "': Operation not supported");
            w->changeBackingFile(backingFile, format);
            writer.reset();
            q->noteBackingFileChanged(backingFile, format);
        } else {
            q->changeBackingFile(backingFile, format);
        }
    } catch (const block::BlockError& e) {
        throw QmpError("Could not change backing file to '" + backingFile +
                       "': " + std::strerror(e.errnoValue()));
    }
    return Json::object();
}

} // namespace

std::function<void()> snapshotAction(QmpContext& ctx, const std::string& type, QmpArgs& data,
                                     std::vector<std::function<void()>>* commitSteps) {
    return type == "blockdev-snapshot" ? blockdevSnapshot(ctx, data, commitSteps)
                                       : blockdevSnapshotSync(ctx, data, commitSteps);
}

void registerSnapshotCommands(QmpContext& ctx) {
    for (const char* type : {"blockdev-snapshot-sync", "blockdev-snapshot"})
        ctx.addCommand({type, [type](QmpContext& c, const Json* args) {
                            QmpArgs a(args);
                            snapshotAction(c, type, a);
                            return Json::object();
                        }});
    ctx.addCommand({"change-backing-file", changeBackingFile});
}

} // namespace e2kvm::qmp

#include "app/qmp/commands/ExportedFileNode.h"

#include "app/qmp/QmpError.h"
#include "block/BlockError.h"
#include "block/ImageOpen.h"

namespace e2kvm::qmp {

namespace {

// Whether the file node was added read-only (blockdev-add's read-only) or made so since (the
// old active layer of an external snapshot).
bool readOnlyFileNode(const QmpContext& ctx, const std::string& nodeName) {
    if (ctx.readOnlyFileNodes.count(nodeName))
        return true;
    auto options = ctx.nodeOptions.find(nodeName);
    const Json* readOnly =
        options == ctx.nodeOptions.end() ? nullptr : options->second.find("read-only");
    return readOnly && ((readOnly->isBool() && readOnly->asBool()) ||
                        (readOnly->isString() && readOnly->asString() == "on"));
}

} // namespace

bool openExportedFileNode(QmpContext& ctx, const std::string& nodeName, bool writable) {
    auto file = ctx.fileNodes.find(nodeName);
    if (file == ctx.fileNodes.end() || ctx.nodes.find(nodeName))
        return false;
    // A read-only file node stays so: the export then finds a read-only node.
    const bool readOnly = !writable || readOnlyFileNode(ctx, nodeName);
    block::OpenOptions options;
    options.format = "raw";
    options.readOnly = readOnly;
    options.unshare = block::kPermResize;
    try {
        std::shared_ptr<block::BlockDriver> image = block::openImage(file->second, options);
        ctx.nodes.add(std::move(image), file->second, "file", readOnly, nodeName);
    } catch (const block::BlockError& e) {
        std::string what = e.what();
        if (block::isImageLockConflict(e))
            throw QmpError(what.substr(0, what.find('\n')));
        throw QmpError("Could not open '" + file->second + "': " + what);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return true;
}

} // namespace e2kvm::qmp

#include "app/qmp/commands/ExportedFileNode.h"

#include "app/qmp/QmpError.h"
#include "block/BlockError.h"
#include "block/ImageOpen.h"

namespace e2kvm::qmp {

bool openExportedFileNode(QmpContext& ctx, const std::string& nodeName, bool writable) {
    auto file = ctx.fileNodes.find(nodeName);
    if (file == ctx.fileNodes.end() || ctx.nodes.find(nodeName))
        return false;
    block::OpenOptions options;
    options.format = "raw";
    options.readOnly = !writable;
    options.unshare = block::kPermResize;
    try {
        std::shared_ptr<block::BlockDriver> image = block::openImage(file->second, options);
        ctx.nodes.add(std::move(image), file->second, "file", !writable, nodeName);
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

// QMP drive-backup (a command and a transaction action): blockdev-backup to an image file that
// the command creates (mode absolute-paths, in the source's format unless `format` says
// otherwise; sync=top keeps the source's backing file, sync=none backs it by the source) or
// opens (mode existing). The target is opened as a node of its own, closed when the job ends.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/BackupStart.h"
#include "app/qmp/commands/JobTarget.h"
#include "app/qmp/commands/NodeLookup.h"
#include "block/ImageOpen.h"

namespace e2kvm::qmp {

PreparedBackup prepareDriveBackup(QmpContext& ctx, const Json* args, const std::string& prefix) {
    QmpArgs own(args, prefix); // the members drive-backup has beyond blockdev-backup's
    std::string device = own.str("device");
    std::string target = own.str("target");
    std::optional<std::string> format = own.optStr("format");
    if (format == "file") // the file protocol node: the file's bytes as they are
        format = "raw";
    std::string mode =
        own.optEnum("mode", {"existing", "absolute-paths"}).value_or("absolute-paths");
    std::string sync =
        own.optEnum("sync", {"top", "full", "none", "incremental", "bitmap"}).value_or("");
    if (sync.empty())
        own.require("sync");

    auto source = lookupNode(ctx, device);
    if (mode == "absolute-paths")
        createJobTarget(*source, target, format.value_or(source->format), sync);
    const bool wasOpen = sync != "none" && ctx.nodes.findByFile(target) != nullptr;
    std::shared_ptr<vm::BlockNode> node;
    try {
        if (sync == "none") {
            // As QEMU: the target is opened without the backing file it names, and the
            // source node itself is put under it (reads of unchanged data see the live disk).
            block::OpenOptions options;
            options.format = format.value_or("");
            if (options.format.empty()) {
                options.format = block::probeFormat(target);
                options.formatProbed = true;
            }
            options.readOnly = false;
            options.backingNode = source->image;
            std::shared_ptr<block::BlockDriver> image = block::openImage(target, options);
            // Unnamed, as QEMU's: the table generates "#blockNNN".
            node = ctx.nodes.add(std::move(image), target, options.format, false, "");
        } else {
            node = ctx.nodes.open(target, format.value_or(""), false);
        }
    } catch (const QmpError&) {
        throw;
    } catch (const std::exception& e) {
        std::string m = e.what();
        if (m.rfind(target + ": ", 0) == 0)
            m.erase(0, target.size() + 2);
        if (m.rfind("Could not open: ", 0) == 0)
            m.erase(0, 16);
        throw QmpError("Could not open '" + target + "': " + m);
    }

    Json rest = Json::object();
    for (const auto& [key, value] : args->asObject())
        if (key != "target" && key != "format" && key != "mode")
            rest.set(key, value);
    rest.set("target", node->name);
    PreparedBackup out;
    try {
        QmpArgs a(&rest, prefix);
        out = prepareBackup(ctx, a);
    } catch (...) {
        if (!wasOpen)
            ctx.nodes.remove(node->name);
        throw;
    }
    if (!wasOpen)
        ctx.closeWhenJobEnds(out.job->id(), node->name);
    return out;
}

void registerDriveBackup(QmpContext& ctx) {
    ctx.addCommand({"drive-backup", [](QmpContext& c, const Json* args) {
                        std::vector<PreparedBackup> backups;
                        backups.push_back(prepareDriveBackup(c, args, ""));
                        startBackups(c, backups, [] {});
                        return Json::object();
                    }});
}

} // namespace e2kvm::qmp

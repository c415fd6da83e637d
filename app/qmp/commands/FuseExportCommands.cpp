#include "app/qmp/commands/FuseExportCommands.h"

#include "app/qmp/QmpError.h"
#include "app/qmp/commands/ExportedFileNode.h"
#include "app/vmcore/QemuId.h"

#include <optional>
#include <string>

namespace e2kvm::qmp {

namespace {

vm::FuseAllowOther allowOtherOf(const std::string& value) {
    if (value == "on")
        return vm::FuseAllowOther::On;
    if (value == "off")
        return vm::FuseAllowOther::Off;
    return vm::FuseAllowOther::Auto;
}

} // namespace

void addFuseExport(QmpContext& ctx, QmpArgs& a) {
    // BlockExportOptions' common members, then those of the fuse variant, as QEMU reads them.
    vm::FuseExportRequest r;
    r.id = a.str("id");
    a.optBool("fixed-iothread", false);
    // An iothread object must exist; e2kvm serves each export from a thread of its own.
    std::optional<std::string> iothread = a.optStr("iothread");
    r.nodeName = a.str("node-name");
    r.options.writable = a.optBool("writable", false);
    r.options.writethrough = a.optBool("writethrough", false);
    r.options.mountpoint = a.str("mountpoint");
    r.options.growable = a.optBool("growable", false);
    r.options.allowOther =
        allowOtherOf(a.optEnum("allow-other", {"off", "on", "auto"}).value_or("auto"));
    a.finish();

    if (!vm::wellFormedId(r.id))
        throw QmpError("Invalid block export id");
    if (ctx.fuseExports.has(r.id) || ctx.nbd.hasExportId(r.id))
        throw QmpError("Block export id '" + r.id + "' is already in use");
    const bool openedHere = openExportedFileNode(ctx, r.nodeName, r.options.writable);
    try {
        // After the node's own checks (the table's), before the mountpoint's, as QEMU.
        std::shared_ptr<vm::BlockNode> node = ctx.nodes.find(r.nodeName);
        if (iothread && !ctx.iothreads.count(*iothread) && node &&
            !(r.options.writable && node->readOnly))
            throw QmpError("iothread \"" + *iothread + "\" not found");
        ctx.fuseExports.add(r);
    } catch (const std::exception& e) {
        if (openedHere)
            ctx.nodes.remove(r.nodeName);
        if (const auto* q = dynamic_cast<const QmpError*>(&e))
            throw *q;
        throw QmpError(e.what());
    }
}

} // namespace e2kvm::qmp

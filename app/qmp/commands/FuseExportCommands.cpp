#include "app/qmp/commands/FuseExportCommands.h"

#include "app/qmp/QmpError.h"
#include "app/qmp/commands/ExportedFileNode.h"
#include "app/vmcore/QemuId.h"

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
    a.optStr("iothread"); // e2kvm serves each export from a thread of its own
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

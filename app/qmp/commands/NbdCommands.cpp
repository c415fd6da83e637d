// QMP NBD export commands: nbd-server-start/-stop/-add/-remove, block-export-add/-del,
// query-block-exports. The exports themselves live in vm::NbdExportService (FUSE exports, which
// the block-export commands handle too: commands/FuseExportCommands and vm::FuseExportTable).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/ExportedFileNode.h"
#include "app/qmp/commands/FuseExportCommands.h"
#include "app/qmp/commands/NodeLookup.h"

#include <cstdlib>

namespace e2kvm::qmp {

namespace {

// SocketAddress ({type, path} / {type, host, port}) or SocketAddressLegacy ({type, data: {...}}).
vm::NbdListenAddress parseAddress(QmpArgs& parent) {
    QmpArgs addr = parent.object("addr");
    std::string type = addr.str("type");
    std::optional<QmpArgs> data = addr.optObject("data");
    QmpArgs& f = data ? *data : addr;
    vm::NbdListenAddress out;
    if (type == "unix") {
        out.unixPath = f.str("path");
        f.optBool("abstract", false);
        f.optBool("tight", true);
        if (out.unixPath.empty() || out.unixPath.size() >= 108)
            throw QmpError("UNIX socket path '" + out.unixPath + "' is too long");
    } else if (type == "inet") {
        out.host = f.str("host");
        const Json& port = f.require("port");
        std::string p = port.isString()    ? port.asString()
                        : port.isInteger() ? std::to_string(port.asInt())
                                           : "";
        char* end = nullptr;
        unsigned long v = std::strtoul(p.c_str(), &end, 10);
        if (p.empty() || *end || v > 65535)
            throw QmpError("Parameter '" + f.path("port") + "' expects a port number");
        out.port = uint16_t(v);
        f.ignore({"numeric", "to", "ipv4", "ipv6", "keep-alive", "mptcp"});
    } else if (type == "fd" || type == "vsock") {
        throw QmpError("Address type '" + type + "' is not supported by e2kvm");
    } else {
        throw QmpError("Parameter '" + addr.path("type") + "' does not accept value '" + type +
                       "'");
    }
    f.finish();
    if (data)
        addr.finish();
    return out;
}

void requireServer(QmpContext& ctx) {
    if (!ctx.nbd.running())
        throw QmpError("NBD server not running");
}

// Exports the node `r.nodeName` names: a drive's name stands for the node the drive is on now
// (its medium, or an overlay put over it), and is the export's name unless another was given.
void addExport(QmpContext& ctx, vm::NbdExportRequest r) {
    requireServer(ctx);
    const bool openedHere = openExportedFileNode(ctx, r.nodeName, r.writable);
    std::shared_ptr<vm::BlockNode> node = lookupNode(ctx, r.nodeName);
    if (r.exportName.empty())
        r.exportName = r.nodeName;
    r.nodeName = node->name;
    try {
        ctx.nbd.add(r);
    } catch (const std::exception& e) {
        if (openedHere)
            ctx.nodes.remove(r.nodeName);
        throw QmpError(e.what());
    }
}

Json nbdServerStart(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    vm::NbdListenAddress address = parseAddress(a);
    std::optional<std::string> creds = a.optStr("tls-creds");
    std::optional<std::string> authz = a.optStr("tls-authz");
    std::optional<uint64_t> maxConnections = a.optUInt("max-connections");
    a.finish();
    (void)maxConnections;
    if (authz && !creds)
        throw QmpError("'tls-authz' requires 'tls-creds'");
    try {
        nbd::TlsServerSettings tls;
        if (creds)
            tls = ctx.tlsObjects.serverSettings(*creds, authz);
        ctx.nbd.start(address, tls);
    } catch (const std::exception& e) {
        throw QmpError(e.what());
    }
    return Json::object();
}

Json nbdServerStop(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    requireServer(ctx);
    ctx.nbd.stop();
    return Json::object();
}

Json nbdServerAdd(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    vm::NbdExportRequest r;
    r.nodeName = a.str("device");
    r.exportName = a.optStr("name").value_or("");
    r.description = a.optStr("description").value_or("");
    r.writable = a.optBool("writable", false);
    if (auto bitmap = a.optStr("bitmap"))
        r.bitmaps.push_back(*bitmap);
    a.finish();
    r.id = r.exportName.empty() ? r.nodeName : r.exportName;
    addExport(ctx, r);
    return Json::object();
}

Json nbdServerRemove(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string name = a.str("name");
    std::string mode = a.optEnum("mode", {"safe", "hard"}).value_or("safe");
    a.finish();
    requireServer(ctx);
    if (!ctx.nbd.remove(name, mode == "hard"))
        throw QmpError("Export '" + name + "' is not found");
    return Json::object();
}

Json blockExportAdd(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string type = a.str("type");
    if (type == "fuse") {
        addFuseExport(ctx, a);
        return Json::object();
    }
    if (type != "nbd")
        throw QmpError("Export type '" + type + "' is not supported by e2kvm (only 'nbd', 'fuse')");
    vm::NbdExportRequest r;
    r.id = a.str("id");
    r.nodeName = a.str("node-name");
    r.exportName = a.optStr("name").value_or("");
    r.description = a.optStr("description").value_or("");
    r.writable = a.optBool("writable", false);
    r.allocationDepth = a.optBool("allocation-depth", false);
    a.optBool("writethrough", false);
    a.optBool("fixed-iothread", false);
    a.optStr("iothread");
    if (const Json* bitmaps = a.any("bitmaps")) {
        if (!bitmaps->isArray())
            a.typeError("bitmaps", "array");
        size_t i = 0;
        for (const Json& b : bitmaps->asArray()) {
            std::string where = "bitmaps[" + std::to_string(i++) + "]";
            if (b.isString()) {
                r.bitmaps.push_back(b.asString());
            } else if (b.isObject()) {
                QmpArgs s(&b, where);
                std::string node = s.str("node");
                std::string name = s.str("name");
                s.finish();
                // Any node's bitmap, as QEMU 7.2 (its size must be the export's: checked when
                // the export is added).
                r.bitmapNodes.resize(r.bitmaps.size());
                r.bitmapNodes.push_back(node);
                r.bitmaps.push_back(name);
            } else {
                throw QmpError("Invalid parameter type for '" + where + "', expected: string");
            }
        }
    }
    a.finish();
    if (ctx.fuseExports.has(r.id)) // export ids are unique across export types
        throw QmpError("Block export id '" + r.id + "' is already in use");
    addExport(ctx, r);
    return Json::object();
}

Json blockExportDel(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string id = a.str("id");
    std::string mode = a.optEnum("mode", {"safe", "hard"}).value_or("safe");
    a.finish();
    if (!ctx.nbd.removeById(id, mode == "hard") && !ctx.fuseExports.remove(id))
        throw QmpError("Export '" + id + "' is not found");
    return Json::object();
}

Json queryBlockExports(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json list = Json::array();
    for (const vm::FuseExportInfo& e : ctx.fuseExports.list())
        list.push(Json::object(
            {{"id", e.id}, {"type", "fuse"}, {"node-name", e.nodeName}, {"shutting-down", false}}));
    for (const vm::NbdExportInfo& e : ctx.nbd.list())
        list.push(Json::object(
            {{"id", e.id}, {"type", "nbd"}, {"node-name", e.nodeName}, {"shutting-down", false}}));
    return list;
}

} // namespace

void registerNbdCommands(QmpContext& ctx) {
    ctx.addCommand({"nbd-server-start", nbdServerStart});
    ctx.addCommand({"nbd-server-stop", nbdServerStop});
    ctx.addCommand({"nbd-server-add", nbdServerAdd});
    ctx.addCommand({"nbd-server-remove", nbdServerRemove});
    ctx.addCommand({"block-export-add", blockExportAdd});
    ctx.addCommand({"block-export-del", blockExportDel});
    ctx.addCommand({"query-block-exports", queryBlockExports});
}

} // namespace e2kvm::qmp

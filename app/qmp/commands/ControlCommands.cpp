// QMP control commands: query-version, query-commands, query-name, quit, object-add/-del
// (tls-creds-x509 and authz-simple: what NBD TLS uses).
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/QmpSession.h"

namespace e2kvm::qmp {

namespace {

Json queryVersion(QmpContext&, const Json* args) {
    QmpArgs(args).finish();
    QmpVersion v = qmpVersion();
    return Json::object(
        {{"qemu", Json::object({{"micro", v.micro}, {"minor", v.minor}, {"major", v.major}})},
         {"package", v.package}});
}

Json queryCommands(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json list = Json::array();
    list.push(Json::object({{"name", "qmp_capabilities"}}));
    for (const std::string& n : ctx.commandNames())
        list.push(Json::object({{"name", n}}));
    return list;
}

Json queryName(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    Json r = Json::object();
    if (ctx.machine && !ctx.machine->name().empty())
        r.set("name", ctx.machine->name());
    return r;
}

Json quit(QmpContext& ctx, const Json* args) {
    QmpArgs(args).finish();
    ctx.markQuit();
    return Json::object();
}

Json objectAdd(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string type = a.str("qom-type");
    std::string id = a.str("id");
    try {
        if (type == "tls-creds-x509") {
            std::optional<std::string> dir = a.optStr("dir");
            std::optional<std::string> endpoint = a.optEnum("endpoint", {"client", "server"});
            bool verifyPeer = a.optBool("verify-peer", true);
            a.ignore({"sanity-check", "priority", "loaded", "passwordid"});
            a.finish();
            if (endpoint && *endpoint != "server")
                throw QmpError("Expecting TLS credentials with a server endpoint");
            ctx.tlsObjects.addCredentials(id, dir.value_or(""), true, verifyPeer);
        } else if (type == "authz-simple") {
            std::string identity = a.str("identity");
            a.ignore({"loaded"});
            a.finish();
            ctx.tlsObjects.addAuthz(id, identity);
        } else {
            throw QmpError("Invalid parameter '" + type + "'");
        }
    } catch (const std::runtime_error& e) {
        if (dynamic_cast<const QmpError*>(&e))
            throw;
        throw QmpError(e.what());
    }
    return Json::object();
}

Json objectDel(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string id = a.str("id");
    a.finish();
    if (!ctx.tlsObjects.remove(id))
        throw QmpError("object '" + id + "' not found");
    return Json::object();
}

} // namespace

void registerControlCommands(QmpContext& ctx) {
    ctx.addCommand({"query-version", queryVersion});
    ctx.addCommand({"query-commands", queryCommands});
    ctx.addCommand({"query-name", queryName});
    ctx.addCommand({"quit", quit});
    ctx.addCommand({"object-add", objectAdd});
    ctx.addCommand({"object-del", objectDel});
}

} // namespace e2kvm::qmp

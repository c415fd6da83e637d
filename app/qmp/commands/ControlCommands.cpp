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

// A throttle-group's limits: the members of `limits` (ThrottleLimits), or the same names with
// "x-" as the object's own properties (the older spelling -object takes). Negative numbers
// get QEMU's range message.
block::ThrottleLimits throttleLimits(QmpArgs& a) {
    block::ThrottleLimits limits;
    auto readAll = [&](QmpArgs& from, const std::string& prefix) {
        auto number = [&](const std::string& key, uint64_t& out) {
            if (std::optional<int64_t> v = from.optInt(prefix + key)) {
                if (*v < 0)
                    throw QmpError("bps/iops/max values must be within [0, 1000000000000000]");
                out = uint64_t(*v);
            }
        };
        for (size_t k = 0; k < block::kThrottleKinds; ++k) {
            const std::string name = block::ThrottleLimits::name(block::ThrottleKind(k));
            number(name, limits.limit[k].avg);
            number(name + "-max", limits.limit[k].max);
            number(name + "-max-length", limits.limit[k].maxLength);
        }
        number("iops-size", limits.iopsSize);
    };
    readAll(a, "x-");
    if (auto nested = a.optObject("limits")) {
        readAll(*nested, "");
        nested->finish();
    }
    return limits;
}

// QEMU keeps every object in one container: an id is taken whatever the type.
void checkNewObjectId(QmpContext& ctx, const std::string& id) {
    if (ctx.throttleGroups.count(id) || ctx.iothreads.count(id) || ctx.tlsObjects.contains(id))
        throw QmpError("attempt to add duplicate property '" + id +
                       "' to object (type 'container')");
}

Json objectAdd(QmpContext& ctx, const Json* args) {
    QmpArgs a(args);
    std::string type = a.str("qom-type");
    std::string id = a.str("id");
    if (type == "iothread") {
        for (const char* key : {"poll-max-ns", "poll-grow", "poll-shrink", "aio-max-batch",
                                "thread-pool-min", "thread-pool-max"})
            if (std::optional<int64_t> v = a.optInt(key); v && *v < 0)
                throw QmpError(std::string("Parameter '") + key + "' expects uint64");
        a.finish();
        checkNewObjectId(ctx, id);
        ctx.iothreads.insert(id);
        return Json::object();
    }
    if (type == "throttle-group") {
        block::ThrottleLimits limits = throttleLimits(a);
        a.finish();
        checkNewObjectId(ctx, id);
        try {
            ctx.throttleGroups[id] = std::make_shared<block::ThrottleGroup>(limits);
        } catch (const std::exception& e) {
            throw QmpError(e.what());
        }
        return Json::object();
    }
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
    if (ctx.iothreads.erase(id))
        return Json::object();
    if (auto group = ctx.throttleGroups.find(id); group != ctx.throttleGroups.end()) {
        // Held by the throttle nodes that name it besides this table.
        if (group->second.use_count() > 1)
            throw QmpError("object '" + id + "' is in use, can not be deleted");
        ctx.throttleGroups.erase(group);
        return Json::object();
    }
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

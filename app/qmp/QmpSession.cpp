#include "app/qmp/QmpSession.h"

#include "app/json/QdictOrder.h"

#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpError.h"

#include <sys/time.h>

namespace e2kvm::qmp {

QmpVersion qmpVersion() {
    QmpVersion v;
    v.major = 0;
    v.minor = 1;
    v.micro = 0;
    v.package = "e2kvm 0.1.0";
    return v;
}

QmpSession::QmpSession(QmpContext& ctx) : ctx_(ctx) {}

std::string QmpSession::greeting() const {
    QmpVersion v = qmpVersion();
    Json version = Json::object(
        {{"qemu", Json::object({{"major", v.major}, {"minor", v.minor}, {"micro", v.micro}})},
         {"package", v.package}});
    Json caps = Json::array();
    caps.push("oob");
    Json g = Json::object({{"QMP", Json::object({{"version", version}, {"capabilities", caps}})}});
    return json::inQdictOrder(g).serialize() + "\n";
}

std::string QmpSession::eventLine(const std::string& event, const Json& data) {
    struct timeval tv;
    gettimeofday(&tv, nullptr);
    Json e = Json::object({{"timestamp", Json::object({{"seconds", int64_t(tv.tv_sec)},
                                                       {"microseconds", int64_t(tv.tv_usec)}})},
                           {"event", event}});
    if (!data.isNull())
        e.set("data", data);
    return json::inQdictOrder(e).serialize() + "\n";
}

namespace {

std::string errorLine(const QmpError& e, const Json* id) {
    Json r =
        Json::object({{"error", Json::object({{"class", e.errorClass()}, {"desc", e.what()}})}});
    if (id)
        r.set("id", *id);
    return json::inQdictOrder(r).serialize() + "\n";
}

} // namespace

Json QmpSession::execute(const Json& request, Json* id) {
    if (!request.isObject())
        throw QmpError("QMP input must be a JSON object");
    const Json* execute = request.find("execute");
    const Json* executeOob = request.find("exec-oob");
    for (const auto& [k, v] : request.asObject())
        if (k != "execute" && k != "exec-oob" && k != "arguments" && k != "id" && k != "control")
            throw QmpError("QMP input member '" + k + "' is unexpected");
    if (execute && executeOob)
        throw QmpError("QMP input must have 'execute' or 'exec-oob', not both");
    if (!execute && !executeOob)
        throw QmpError("QMP input lacks member 'execute'");
    const Json* cmd = execute ? execute : executeOob;
    if (!cmd->isString())
        throw QmpError(std::string("QMP input member '") + (execute ? "execute" : "exec-oob") +
                       "' must be a string");
    const std::string& name = cmd->asString();
    const Json* arguments = request.find("arguments");
    if (arguments && !arguments->isObject())
        throw QmpError("QMP input member 'arguments' must be an object");
    if (executeOob) {
        if (!oob_)
            throw QmpError("Out-of-band execution was not enabled with qmp_capabilities");
        if (!ctx_.findCommand(name) && name != "qmp_capabilities")
            throw QmpError("The command " + name + " has not been found", "CommandNotFound");
        throw QmpError("The command " + name + " does not support OOB");
    }
    (void)id;

    if (name == "qmp_capabilities") {
        if (commandMode_)
            throw QmpError("Capabilities negotiation is already complete, command ignored",
                           "CommandNotFound");
        QmpArgs a(arguments);
        bool oob = false;
        if (const Json* enable = a.any("enable")) {
            if (!enable->isArray())
                a.typeError("enable", "array");
            for (const Json& c : enable->asArray()) {
                if (!c.isString())
                    throw QmpError("Invalid parameter type for 'enable[0]', expected: string");
                if (c.asString() != "oob")
                    throw QmpError("Parameter 'enable' does not accept value '" + c.asString() +
                                   "'");
                oob = true;
            }
        }
        a.finish();
        commandMode_ = true;
        oob_ = oob;
        return Json::object();
    }
    if (!commandMode_)
        throw QmpError("Expecting capabilities negotiation with 'qmp_capabilities'",
                       "CommandNotFound");
    return ctx_.execute(name, arguments);
}

std::string QmpSession::handle(const Json& request) {
    Json idCopy;
    const Json* id = request.isObject() ? request.find("id") : nullptr;
    if (id)
        idCopy = *id;
    try {
        Json ret = execute(request, id ? &idCopy : nullptr);
        Json r = Json::object({{"return", std::move(ret)}});
        if (id)
            r.set("id", idCopy);
        std::string line = json::inQdictOrder(r).serialize() + "\n";
        return line;
    } catch (const QmpError& e) {
        return errorLine(e, id ? &idCopy : nullptr);
    } catch (const JsonError& e) {
        return errorLine(QmpError(e.what()), id ? &idCopy : nullptr);
    } catch (const std::bad_alloc&) {
        return errorLine(QmpError("Out of memory"), id ? &idCopy : nullptr);
    } catch (const std::exception& e) {
        return errorLine(QmpError(e.what()), id ? &idCopy : nullptr);
    }
}

std::string QmpSession::feed(std::string_view bytes) {
    std::string out;
    feed(bytes, [&out](const std::string& line) { out += line; });
    return out;
}

void QmpSession::feed(std::string_view bytes,
                      const std::function<void(const std::string&)>& onReply) {
    for (JsonStreamSplitter::Piece& p : splitter_.feed(bytes)) {
        if (p.tooLarge) {
            onReply(errorLine(QmpError("JSON parse error, input too large"), nullptr));
            continue;
        }
        Json request;
        try {
            request = parseJson(p.text);
        } catch (const JsonError& e) {
            onReply(errorLine(QmpError(e.what()), nullptr));
            continue;
        }
        onReply(handle(request));
    }
}

} // namespace e2kvm::qmp

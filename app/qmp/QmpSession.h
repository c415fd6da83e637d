#pragma once
// QmpSession: the protocol of one QMP client, independent of sockets: bytes in, reply lines
// out. Greeting, capabilities negotiation (commands before qmp_capabilities are refused with
// CommandNotFound), "id" echoed, exec-oob, and event delivery once negotiated.
#include "app/qmp/Json.h"
#include "app/qmp/QmpContext.h"

#include <functional>
#include <string>
#include <string_view>

namespace e2kvm::qmp {

struct QmpVersion {
    int major = 0, minor = 1, micro = 0;
    std::string package;
};
// The version QMP reports (the project version, "package" naming e2kvm).
QmpVersion qmpVersion();

class QmpSession {
public:
    explicit QmpSession(QmpContext& ctx);

    // The greeting line (with its newline).
    std::string greeting() const;
    // Feeds client bytes; returns the reply lines produced (each ends with a newline).
    std::string feed(std::string_view bytes);
    // The same, handing each reply line to `onReply` as soon as it is ready (a server sends
    // the events a command caused before its reply, as QEMU does).
    void feed(std::string_view bytes, const std::function<void(const std::string&)>& onReply);
    // Runs one parsed JSON text; returns its reply line (empty if there is none).
    std::string handle(const Json& request);
    // Whether events go to this client (after qmp_capabilities).
    bool commandMode() const { return commandMode_; }
    bool oobEnabled() const { return oob_; }

    // One event line {"timestamp": ..., "event": ..., "data": ...} for the current time.
    static std::string eventLine(const std::string& event, const Json& data);

private:
    Json execute(const Json& request, Json* id);

    QmpContext& ctx_;
    JsonStreamSplitter splitter_;
    bool commandMode_ = false;
    bool oob_ = false;
};

} // namespace e2kvm::qmp

// Option negotiation of ServerConnection (fixed newstyle handshake).
#include "nbd/NbdError.h"
#include "nbd/OptionParsing.h"
#include "nbd/Protocol.h"
#include "nbd/ServerConnection.h"

#include <algorithm>
#include <cstdio>

namespace e2kvm::nbd {

namespace {

// An export name as the server's error messages quote it: QEMU's server cuts a name of 80 bytes
// or more to its first 80 and adds "..." (so a client's huge name gives a short message).
std::string quotedExportName(const std::string& name) {
    constexpr size_t kQuotedNameBytes = 80;
    return name.size() < kQuotedNameBytes ? name : name.substr(0, kQuotedNameBytes) + "...";
}

constexpr uint32_t kMaxOptionPayloadKept = 1u << 20; // longer options are refused, not stored

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

} // namespace

void ServerConnection::sendOptionReply(uint32_t option, uint32_t type, const uint8_t* data,
                                       size_t len) {
    uint8_t hdr[20];
    putU64(hdr, kOptReplyMagic);
    putU32(hdr + 8, option);
    putU32(hdr + 12, type);
    putU32(hdr + 16, uint32_t(len));
    iovec iov[2] = {{hdr, sizeof hdr}, {const_cast<uint8_t*>(data), len}};
    transport_->writeAll(iov, len ? 2 : 1);
}

void ServerConnection::sendOptionError(uint32_t option, const OptionReject& reject) {
    log(format("option %s (%u) refused: %s", optionName(option), option, reject.message.c_str()));
    std::string msg = reject.message.substr(0, kMaxStringSize);
    sendOptionReply(option, reject.reply, reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
}

bool ServerConnection::negotiate() {
    uint8_t greeting[18];
    putU64(greeting, kInitMagic);
    putU64(greeting + 8, kOptMagic);
    putU16(greeting + 16, kFlagFixedNewstyle | kFlagNoZeroes);
    transport_->writeAll(greeting);

    uint8_t cflags[4];
    transport_->readExact(cflags, 4);
    uint32_t clientFlags = getU32(cflags);
    if (clientFlags & ~(kClientFixedNewstyle | kClientNoZeroes))
        throw NbdError(format("unknown client flags 0x%x", clientFlags));
    noZeroes_ = (clientFlags & kClientNoZeroes) != 0;

    for (;;) {
        uint8_t hdr[16];
        transport_->readExact(hdr, 16);
        if (getU64(hdr) != kOptMagic)
            throw NbdError("bad option magic");
        uint32_t option = getU32(hdr + 8);
        uint32_t length = getU32(hdr + 12);
        if (length > kMaxOptionLength)
            throw NbdError(format("option %u length %u is too large", option, length));

        bool tlsNeeded = env_.tlsMode == TlsMode::Required && !tlsActive_;
        if (option == OptExportName) {
            if (tlsNeeded)
                throw NbdError("export name option before TLS");
            if (length > kMaxStringSize)
                throw NbdError("export name is longer than 4096 bytes");
            std::vector<uint8_t> name(length);
            transport_->readExact(name.data(), length);
            handleExportName(name);
            return true;
        }
        if (length > kMaxOptionPayloadKept) {
            transport_->discard(length);
            sendOptionError(option, {RepErrTooBig, format("option %s is too long (%u bytes)",
                                                          optionName(option), length)});
            continue;
        }
        std::vector<uint8_t> data(length);
        transport_->readExact(data.data(), length);

        if (tlsNeeded && option != OptStartTls && option != OptAbort) {
            sendOptionError(
                option, {RepErrTlsReqd, format("Option 0x%x not permitted before TLS", option)});
            continue;
        }
        switch (option) {
        case OptAbort:
            try {
                sendOptionReply(option, RepAck, nullptr, 0);
            } catch (const NbdError&) {
            }
            return false;
        case OptList:
            handleList(data);
            break;
        case OptStartTls:
            if (length) {
                sendOptionError(option, {RepErrInvalid, "option 'starttls' has unexpected length"});
            } else if (env_.tlsMode == TlsMode::Off || !env_.startTls) {
                sendOptionError(option, {RepErrPolicy, "TLS not configured"});
            } else if (tlsActive_) {
                sendOptionError(option, {RepErrInvalid, "TLS already enabled"});
            } else {
                sendOptionReply(option, RepAck, nullptr, 0);
                auto tls = env_.startTls();
                std::lock_guard lock(transportMutex_);
                if (closing_)
                    throw ConnectionClosed();
                transport_ = std::move(tls);
                tlsActive_ = true;
                structuredReply_ = false;
                meta_.clear();
                metaSet_ = false;
            }
            break;
        case OptInfo:
        case OptGo: {
            bool done = false;
            handleInfoOrGo(option, data, done);
            if (done)
                return true;
            break;
        }
        case OptStructuredReply:
            if (length)
                sendOptionError(option,
                                {RepErrInvalid, "option 'structured reply' has unexpected length"});
            else if (structuredReply_)
                sendOptionError(option, {RepErrInvalid, "structured reply already negotiated"});
            else {
                structuredReply_ = true;
                sendOptionReply(option, RepAck, nullptr, 0);
            }
            break;
        case OptListMetaContext:
        case OptSetMetaContext:
            handleMetaContext(option, data);
            break;
        default:
            sendOptionError(option, {RepErrUnsup, format("Unsupported option %u (%s)", option,
                                                         optionName(option))});
            break;
        }
    }
}

void ServerConnection::handleList(const std::vector<uint8_t>& data) {
    if (!data.empty()) {
        sendOptionError(OptList, {RepErrInvalid, "option 'list' has unexpected length"});
        return;
    }
    for (const auto& exp : env_.listExports()) {
        WireWriter w;
        w.u32(uint32_t(exp->name().size()));
        w.str(exp->name());
        w.str(exp->config().description);
        sendOptionReply(OptList, RepServer, w.bytes.data(), w.bytes.size());
    }
    sendOptionReply(OptList, RepAck, nullptr, 0);
}

void ServerConnection::handleInfoOrGo(uint32_t option, const std::vector<uint8_t>& data,
                                      bool& done) {
    InfoRequest req;
    try {
        req = parseInfoRequest(data);
    } catch (const OptionSyntaxError& e) {
        sendOptionError(option, {RepErrInvalid, e.what()});
        return;
    }
    auto exp = env_.findExport(req.name);
    if (!exp) {
        sendOptionError(option,
                        {RepErrUnknown, "export '" + quotedExportName(req.name) + "' not present"});
        return;
    }
    bool wantName = std::count(req.infos.begin(), req.infos.end(), InfoName) > 0;
    bool wantSizes = std::count(req.infos.begin(), req.infos.end(), InfoBlockSize) > 0;
    auto sendInfo = [&](uint16_t type, const WireWriter& body) {
        WireWriter w;
        w.u16(type);
        w.raw(body.bytes.data(), body.bytes.size());
        sendOptionReply(option, RepInfo, w.bytes.data(), w.bytes.size());
    };
    if (wantName) {
        WireWriter b;
        b.str(exp->name());
        sendInfo(InfoName, b);
    }
    if (!exp->config().description.empty()) {
        WireWriter b;
        b.str(exp->config().description);
        sendInfo(InfoDescription, b);
    }
    uint32_t minBlock = (wantSizes || option == OptInfo) ? exp->config().minBlock : 1;
    {
        WireWriter b;
        b.u32(minBlock);
        b.u32(std::max<uint32_t>(4096, minBlock));
        b.u32(kMaxPayload);
        sendInfo(InfoBlockSize, b);
    }
    if (option == OptInfo && exp->config().minBlock > 1 && !wantSizes) {
        sendOptionError(option,
                        {RepErrBlockSizeReqd, "request NBD_INFO_BLOCK_SIZE to use this export"});
        return;
    }
    {
        WireWriter b;
        b.u64(exp->size());
        b.u16(exp->transmissionFlags(structuredReply_, env_.multiConn));
        sendInfo(InfoExport, b);
    }
    sendOptionReply(option, RepAck, nullptr, 0);
    if (option == OptGo) {
        if (!metaSet_ || metaExport_ != exp->name()) {
            meta_.clear();
            metaSet_ = false;
        }
        std::lock_guard lock(exportMutex_);
        export_ = exp;
        done = true;
    }
}

void ServerConnection::handleMetaContext(uint32_t option, const std::vector<uint8_t>& data) {
    bool list = option == OptListMetaContext;
    if (!list) { // SET replaces the selection even when it fails
        meta_.clear();
        metaSet_ = false;
    }
    if (!list && !structuredReply_) {
        sendOptionError(option, {RepErrInvalid, "request option 'set meta context' when structured "
                                                "reply is not negotiated"});
        return;
    }
    MetaContextRequest req;
    try {
        req = parseMetaContextRequest(data);
    } catch (const OptionSyntaxError& e) {
        sendOptionError(option, {RepErrInvalid, e.what()});
        return;
    }
    auto exp = env_.findExport(req.exportName);
    if (!exp) {
        sendOptionError(option, {RepErrUnknown, "export '" + req.exportName + "' not present"});
        return;
    }
    auto contexts = matchMetaContexts(exp->config(), req.queries, list);
    for (const auto& c : contexts) {
        WireWriter w;
        w.u32(list ? 0 : c.id);
        w.str(c.name);
        sendOptionReply(option, RepMetaContext, w.bytes.data(), w.bytes.size());
    }
    sendOptionReply(option, RepAck, nullptr, 0);
    if (!list) {
        meta_ = std::move(contexts);
        metaExport_ = exp->name();
        metaSet_ = true;
    }
}

void ServerConnection::handleExportName(const std::vector<uint8_t>& data) {
    std::string name(data.begin(), data.end());
    auto exp = env_.findExport(name);
    if (!exp)
        throw NbdError("export '" + name + "' not present");
    uint8_t reply[10 + 124] = {};
    putU64(reply, exp->size());
    putU16(reply + 8, exp->transmissionFlags(structuredReply_, env_.multiConn));
    transport_->writeAll(std::span<const uint8_t>(reply, noZeroes_ ? 10 : sizeof reply));
    if (!metaSet_ || metaExport_ != exp->name()) {
        meta_.clear();
        metaSet_ = false;
    }
    std::lock_guard lock(exportMutex_);
    export_ = exp;
}

} // namespace e2kvm::nbd

#include "nbd/Client.h"

#include "block/BlockError.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"
#include "nbd/TlsTransport.h"

#include <cstring>
#include <gio/gio.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace e2kvm::nbd {

namespace {

constexpr uint32_t kMaxOptionReply = 1u << 20;

struct OptionReplyMsg {
    uint32_t type = 0;
    std::vector<uint8_t> data;
    std::string text() const { return std::string(data.begin(), data.end()); }
};

int connectSocket(const NbdUri& uri) {
    if (!uri.socketPath.empty()) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (uri.socketPath.size() >= sizeof sa.sun_path)
            throw NbdError(uri.socketPath + ": socket path too long");
        std::memcpy(sa.sun_path, uri.socketPath.c_str(), uri.socketPath.size());
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            std::string m =
                "Failed to connect to '" + uri.socketPath + "': " + std::strerror(errno);
            if (fd >= 0)
                close(fd);
            throw NbdError(m);
        }
        return fd;
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    std::string port = std::to_string(uri.port);
    int rc = getaddrinfo(uri.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0)
        throw NbdError("address resolution failed for " + uri.host + ":" + port + ": " +
                       gai_strerror(rc));
    std::string lastError = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            freeaddrinfo(res);
            return fd;
        }
        lastError = std::strerror(errno);
        close(fd);
    }
    freeaddrinfo(res);
    throw NbdError("Failed to connect to '" + uri.host + ":" + port + "': " + lastError);
}

} // namespace

struct Client::Connection {
    GSocketConnection* gio = nullptr; // only for TLS
    std::unique_ptr<Transport> transport;
    int fd = -1;
    bool noZeroes = false;
    // What the server's greeting allows: fixed newstyle (every option), plain newstyle
    // (NBD_OPT_EXPORT_NAME only) or oldstyle (no options: the export was described already).
    bool fixedNewstyle = false;
    bool oldstyle = false;
    uint64_t oldstyleSize = 0;
    uint16_t oldstyleFlags = 0;

    ~Connection() {
        transport.reset();
        if (gio)
            g_object_unref(gio); // closes fd
    }

    void sendOption(uint32_t option, const std::vector<uint8_t>& data) {
        uint8_t hdr[16];
        putU64(hdr, kOptMagic);
        putU32(hdr + 8, option);
        putU32(hdr + 12, uint32_t(data.size()));
        iovec iov[2] = {{hdr, 16}, {const_cast<uint8_t*>(data.data()), data.size()}};
        transport->writeAll(iov, data.empty() ? 1 : 2);
    }

    OptionReplyMsg readReply(uint32_t option) {
        uint8_t hdr[20];
        transport->readExact(hdr, 20);
        if (getU64(hdr) != kOptReplyMagic)
            throw NbdError("server sent a bad option reply magic");
        if (getU32(hdr + 8) != option)
            throw NbdError("server replied to the wrong option");
        OptionReplyMsg r;
        r.type = getU32(hdr + 12);
        uint32_t len = getU32(hdr + 16);
        if (len > kMaxOptionReply)
            throw NbdError("server option reply too long");
        r.data.resize(len);
        transport->readExact(r.data.data(), len);
        return r;
    }

    // Sends an option that expects only ACK or an error; returns the error reply type or 0.
    uint32_t simpleOption(uint32_t option, std::string* message = nullptr) {
        sendOption(option, {});
        OptionReplyMsg r = readReply(option);
        if (r.type == RepAck)
            return 0;
        if (!(r.type & kRepErrBit))
            throw NbdError(std::string("unexpected reply to option ") + optionName(option));
        if (message)
            *message = r.text();
        return r.type;
    }
};

std::unique_ptr<Client::Connection> Client::open(const NbdUri& uri) {
    auto c = std::make_unique<Connection>();
    c->fd = connectSocket(uri);
    if (uri.tls) {
        GError* err = nullptr;
        GSocket* gs = g_socket_new_from_fd(c->fd, &err);
        if (!gs) {
            close(c->fd);
            std::string m = err ? err->message : "socket";
            g_clear_error(&err);
            throw NbdError(m);
        }
        c->gio = g_socket_connection_factory_create_connection(gs);
        g_object_unref(gs);
    }
    c->transport = std::make_unique<SocketTransport>(c->fd, !uri.tls);

    uint8_t greet[16];
    c->transport->readExact(greet, sizeof greet);
    if (getU64(greet) != kInitMagic)
        throw NbdError("not an NBD server (bad magic)");
    if (getU64(greet + 8) == kOldstyleMagic) {
        // Oldstyle: size (64 bits), flags (32 bits, the transmission flags in the low 16) and
        // 124 bytes of zeroes; one unnamed export and no options.
        uint8_t rest[8 + 4 + 124];
        c->transport->readExact(rest, sizeof rest);
        if (uri.tls)
            throw NbdError("server does not support TLS (oldstyle negotiation)");
        c->oldstyle = true;
        c->oldstyleSize = getU64(rest);
        c->oldstyleFlags = uint16_t(getU32(rest + 8));
        return c;
    }
    if (getU64(greet + 8) != kOptMagic)
        throw NbdError("server does not speak the newstyle protocol");
    uint8_t hf[2];
    c->transport->readExact(hf, sizeof hf);
    uint16_t hflags = getU16(hf);
    c->fixedNewstyle = (hflags & kFlagFixedNewstyle) != 0;
    uint32_t cflags = c->fixedNewstyle ? kClientFixedNewstyle : 0;
    if (hflags & kFlagNoZeroes) {
        cflags |= kClientNoZeroes;
        c->noZeroes = true;
    }
    uint8_t cf[4];
    putU32(cf, cflags);
    c->transport->writeAll(cf);
    if (uri.tls && !c->fixedNewstyle)
        throw NbdError("server does not support STARTTLS (no fixed newstyle negotiation)");

    if (uri.tls) {
        std::string msg;
        uint32_t err = c->simpleOption(OptStartTls, &msg);
        if (err)
            throw NbdError("server refused STARTTLS: " + msg);
        if (uri.tlsCertificates.empty())
            throw NbdError("TLS needs tls-certificates=DIR in the URI");
        std::string host = uri.socketPath.empty() ? uri.host : "";
        c->transport = tlsClientHandshake(G_IO_STREAM(c->gio), c->fd, uri.tlsCertificates, host);
    }
    return c;
}

std::unique_ptr<Client> Client::connect(const NbdUri& uri,
                                        const std::vector<std::string>& metaContexts) {
    std::unique_ptr<Client> cl(new Client());
    cl->conn_ = open(uri);
    Connection& c = *cl->conn_;
    if (c.oldstyle) {
        if (!uri.exportName.empty())
            throw NbdError("Server does not support non-empty export names");
        cl->size_ = c.oldstyleSize;
        cl->flags_ = c.oldstyleFlags;
        cl->sizes_.maximum = kMaxPayload;
        cl->transmission_ = true;
        return cl;
    }
    if (!c.fixedNewstyle) {
        cl->exportName(uri.exportName);
        return cl;
    }
    cl->structured_ = c.simpleOption(OptStructuredReply) == 0;
    if (cl->structured_ && !metaContexts.empty()) {
        WireWriter w;
        w.u32(uint32_t(uri.exportName.size()));
        w.str(uri.exportName);
        w.u32(uint32_t(metaContexts.size()));
        for (const auto& q : metaContexts) {
            w.u32(uint32_t(q.size()));
            w.str(q);
        }
        c.sendOption(OptSetMetaContext, w.bytes);
        for (;;) {
            OptionReplyMsg r = c.readReply(OptSetMetaContext);
            if (r.type == RepAck)
                break;
            if (r.type == RepMetaContext && r.data.size() >= 4) {
                cl->contexts_[std::string(r.data.begin() + 4, r.data.end())] =
                    getU32(r.data.data());
                continue;
            }
            if (r.type & kRepErrBit)
                break; // no contexts; block status will not be available
            throw NbdError("unexpected reply to SET_META_CONTEXT");
        }
    }
    WireWriter go;
    go.u32(uint32_t(uri.exportName.size()));
    go.str(uri.exportName);
    go.u16(1);
    go.u16(InfoBlockSize);
    c.sendOption(OptGo, go.bytes);
    bool haveExport = false;
    for (;;) {
        OptionReplyMsg r = c.readReply(OptGo);
        if (r.type == RepAck)
            break;
        if (r.type == RepErrUnsup) {
            // A server older than NBD_OPT_GO: the export by name, as before it.
            cl->exportName(uri.exportName);
            return cl;
        }
        if (r.type == RepErrUnknown)
            throw NbdError("Requested export not available\nserver reported: " + r.text());
        if (r.type & kRepErrBit)
            throw NbdError("server refused export '" + uri.exportName + "': " + r.text());
        if (r.type != RepInfo || r.data.size() < 2)
            throw NbdError("unexpected reply to NBD_OPT_GO");
        uint16_t info = getU16(r.data.data());
        if (info == InfoExport && r.data.size() == 12) {
            cl->size_ = getU64(r.data.data() + 2);
            cl->flags_ = getU16(r.data.data() + 10);
            haveExport = true;
        } else if (info == InfoBlockSize && r.data.size() == 14) {
            cl->sizes_.minimum = getU32(r.data.data() + 2);
            cl->sizes_.preferred = getU32(r.data.data() + 6);
            cl->sizes_.maximum = getU32(r.data.data() + 10);
        }
    }
    if (!haveExport)
        throw NbdError("server did not describe the export");
    if (cl->sizes_.maximum == 0 || cl->sizes_.maximum > kMaxPayload)
        cl->sizes_.maximum = kMaxPayload;
    cl->transmission_ = true;
    return cl;
}

void Client::exportName(const std::string& name) {
    Connection& c = *conn_;
    WireWriter w;
    w.str(name);
    c.sendOption(OptExportName, w.bytes);
    // No reply header: size (64 bits), transmission flags (16), and 124 zero bytes unless
    // both sides agreed to leave them out. A server without the export just hangs up.
    uint8_t info[8 + 2 + 124];
    size_t len = c.noZeroes ? 10 : sizeof info;
    c.transport->readExact(info, len);
    size_ = getU64(info);
    flags_ = getU16(info + 8);
    sizes_.maximum = kMaxPayload;
    transmission_ = true;
}

std::vector<ExportListing> Client::list(const NbdUri& uri) {
    auto c = open(uri);
    if (c->oldstyle || !c->fixedNewstyle)
        throw NbdError("server cannot list its exports (no fixed newstyle negotiation)");
    c->simpleOption(OptStructuredReply);
    std::vector<ExportListing> out;
    c->sendOption(OptList, {});
    for (;;) {
        OptionReplyMsg r = c->readReply(OptList);
        if (r.type == RepAck)
            break;
        if (r.type & kRepErrBit)
            throw NbdError("server refused to list exports: " + r.text());
        if (r.type != RepServer || r.data.size() < 4 || getU32(r.data.data()) > r.data.size() - 4)
            throw NbdError("malformed export list reply");
        uint32_t n = getU32(r.data.data());
        ExportListing e;
        e.name.assign(r.data.begin() + 4, r.data.begin() + 4 + n);
        e.description.assign(r.data.begin() + 4 + n, r.data.end());
        out.push_back(std::move(e));
    }
    for (auto& e : out) {
        WireWriter w;
        w.u32(uint32_t(e.name.size()));
        w.str(e.name);
        w.u16(1);
        w.u16(InfoBlockSize);
        c->sendOption(OptInfo, w.bytes);
        for (;;) {
            OptionReplyMsg r = c->readReply(OptInfo);
            if (r.type == RepAck || (r.type & kRepErrBit))
                break;
            if (r.type != RepInfo || r.data.size() < 2)
                continue;
            uint16_t info = getU16(r.data.data());
            if (info == InfoExport && r.data.size() == 12) {
                e.size = getU64(r.data.data() + 2);
                e.flags = getU16(r.data.data() + 10);
            } else if (info == InfoBlockSize && r.data.size() == 14) {
                e.sizes.minimum = getU32(r.data.data() + 2);
                e.sizes.preferred = getU32(r.data.data() + 6);
                e.sizes.maximum = getU32(r.data.data() + 10);
            } else if (info == InfoDescription) {
                e.description.assign(r.data.begin() + 2, r.data.end());
            }
        }
        WireWriter m;
        m.u32(uint32_t(e.name.size()));
        m.str(e.name);
        m.u32(0);
        c->sendOption(OptListMetaContext, m.bytes);
        for (;;) {
            OptionReplyMsg r = c->readReply(OptListMetaContext);
            if (r.type == RepAck || (r.type & kRepErrBit))
                break;
            if (r.type == RepMetaContext && r.data.size() >= 4)
                e.contexts.emplace_back(r.data.begin() + 4, r.data.end());
        }
    }
    try {
        c->simpleOption(OptAbort);
    } catch (const NbdError&) {
    }
    return out;
}

Client::~Client() {
    try {
        disconnect();
    } catch (...) {
    }
}

void Client::disconnect() {
    std::lock_guard lock(mutex_);
    if (closed_ || !conn_) // never connected (connect() failed while opening)
        return;
    closed_ = true;
    if (!transmission_) {
        // Still negotiating (the export was refused): end with NBD_OPT_ABORT, as a request
        // there would be garbage to the server. Its reply is not waited for.
        conn_->sendOption(OptAbort, {});
        conn_->transport->shutdown();
        return;
    }
    uint8_t hdr[28] = {};
    putU32(hdr, kRequestMagic);
    putU16(hdr + 6, CmdDisc);
    conn_->transport->writeAll(hdr);
    conn_->transport->shutdown();
}

void Client::request(uint16_t type, uint16_t flags, uint64_t offset, uint32_t length,
                     std::span<const uint8_t> payload, std::span<uint8_t> readBuf,
                     std::vector<std::pair<uint32_t, std::vector<Extent32>>>* status) {
    std::lock_guard lock(mutex_);
    if (closed_)
        throw NbdError("NBD connection is closed");
    Transport& t = *conn_->transport;
    uint64_t cookie = nextCookie_++;
    uint8_t hdr[28];
    putU32(hdr, kRequestMagic);
    putU16(hdr + 4, flags);
    putU16(hdr + 6, type);
    putU64(hdr + 8, cookie);
    putU64(hdr + 16, offset);
    putU32(hdr + 24, length);
    iovec iov[2] = {{hdr, 28}, {const_cast<uint8_t*>(payload.data()), payload.size()}};
    try {
        t.writeAll(iov, payload.empty() ? 1 : 2);
        exchangeReply(type, offset, length, cookie, readBuf, status);
    } catch (const NbdError&) {
        // The connection is gone or out of step: no later request can use it (each fails at
        // once, as QEMU's client does once its connection died).
        closed_ = true;
        t.shutdown();
        throw;
    }
}

void Client::exchangeReply(uint16_t type, uint64_t offset, uint32_t length, uint64_t cookie,
                           std::span<uint8_t> readBuf,
                           std::vector<std::pair<uint32_t, std::vector<Extent32>>>* status) {
    Transport& t = *conn_->transport;
    auto broken = [&](const std::string& why) {
        closed_ = true;
        t.shutdown();
        throw NbdError("NBD server protocol error: " + why);
    };
    uint8_t rh[20];
    t.readExact(rh, 4);
    uint32_t magic = getU32(rh);
    if (magic == kSimpleReplyMagic) {
        t.readExact(rh + 4, 12);
        if (getU64(rh + 8) != cookie)
            broken("reply for an unknown request");
        uint32_t err = getU32(rh + 4);
        if (err)
            throw block::BlockError(wireToErrno(err),
                                    std::string("NBD server: ") + std::strerror(wireToErrno(err)));
        if (type == CmdRead)
            t.readExact(readBuf.data(), readBuf.size());
        return;
    }
    if (magic != kStructuredReplyMagic)
        broken("bad reply magic");
    int error = 0;
    std::string errorMessage;
    for (;;) {
        t.readExact(rh + 4, 16);
        uint16_t cflags = getU16(rh + 4);
        uint16_t ctype = getU16(rh + 6);
        uint32_t clen = getU32(rh + 16);
        if (getU64(rh + 8) != cookie)
            broken("reply for an unknown request");
        if (clen > kMaxPayload + 4096 && ctype != ChunkBlockStatus)
            broken("reply chunk too long");
        if (ctype == ChunkOffsetData && type == CmdRead) {
            if (clen < 9)
                broken("short data chunk");
            uint8_t ob[8];
            t.readExact(ob, 8);
            uint64_t off = getU64(ob);
            uint64_t n = clen - 8;
            if (off < offset || off - offset > length || n > length - (off - offset))
                broken("data chunk outside the request");
            t.readExact(readBuf.data() + (off - offset), size_t(n));
        } else if (ctype == ChunkOffsetHole && type == CmdRead) {
            if (clen != 12)
                broken("bad hole chunk");
            uint8_t hb[12];
            t.readExact(hb, 12);
            uint64_t off = getU64(hb);
            uint32_t n = getU32(hb + 8);
            if (off < offset || off - offset > length || n > length - (off - offset))
                broken("hole chunk outside the request");
            std::memset(readBuf.data() + (off - offset), 0, n);
        } else if (ctype == ChunkBlockStatus && type == CmdBlockStatus) {
            if (clen < 4 || (clen - 4) % 8 != 0 || clen > (8u << 20) + 4)
                broken("bad block status chunk");
            std::vector<uint8_t> b(clen);
            t.readExact(b.data(), clen);
            std::vector<Extent32> ex((clen - 4) / 8);
            for (size_t i = 0; i < ex.size(); ++i)
                ex[i] = {getU32(b.data() + 4 + i * 8), getU32(b.data() + 8 + i * 8)};
            if (status)
                status->emplace_back(getU32(b.data()), std::move(ex));
        } else if (ctype == ChunkNone) {
            if (clen != 0)
                broken("non-empty NONE chunk");
        } else if (ctype & 0x8000) {
            if (clen < 6 || clen > 65536)
                broken("bad error chunk");
            std::vector<uint8_t> b(clen);
            t.readExact(b.data(), clen);
            uint32_t err = getU32(b.data());
            uint16_t mlen = getU16(b.data() + 4);
            if (size_t(mlen) + 6 > clen)
                broken("bad error chunk message");
            error = wireToErrno(err ? err : NbdEinval);
            errorMessage.assign(b.begin() + 6, b.begin() + 6 + mlen);
        } else {
            broken("unexpected reply chunk type " + std::to_string(ctype));
        }
        if (cflags & kReplyFlagDone)
            break;
        t.readExact(rh, 4);
        if (getU32(rh) != kStructuredReplyMagic)
            broken("bad reply magic");
    }
    if (error)
        throw block::BlockError(error, "NBD server: " + (errorMessage.empty()
                                                             ? std::string(std::strerror(error))
                                                             : errorMessage));
}

void Client::read(uint64_t offset, std::span<uint8_t> buf) {
    size_t done = 0;
    while (done < buf.size()) {
        uint32_t n = uint32_t(std::min<size_t>(buf.size() - done, sizes_.maximum));
        request(CmdRead, 0, offset + done, n, {}, buf.subspan(done, n), nullptr);
        done += n;
    }
}

void Client::write(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
    size_t done = 0;
    while (done < buf.size()) {
        uint32_t n = uint32_t(std::min<size_t>(buf.size() - done, sizes_.maximum));
        request(CmdWrite, fua ? CmdFlagFua : 0, offset + done, n, buf.subspan(done, n), {},
                nullptr);
        done += n;
    }
}

void Client::flush() {
    request(CmdFlush, 0, 0, 0, {}, {}, nullptr);
}

void Client::trim(uint64_t offset, uint32_t length) {
    request(CmdTrim, 0, offset, length, {}, {}, nullptr);
}

void Client::writeZeroes(uint64_t offset, uint32_t length, uint16_t cmdFlags) {
    request(CmdWriteZeroes, cmdFlags, offset, length, {}, {}, nullptr);
}

std::vector<Extent32> Client::blockStatus(const std::string& context, uint64_t offset,
                                          uint32_t length, bool reqOne) {
    auto it = contexts_.find(context);
    if (it == contexts_.end())
        throw block::BlockError(ENOTSUP, "NBD server did not agree to context " + context);
    std::vector<std::pair<uint32_t, std::vector<Extent32>>> status;
    request(CmdBlockStatus, reqOne ? CmdFlagReqOne : 0, offset, length, {}, {}, &status);
    for (auto& [id, ex] : status)
        if (id == it->second && !ex.empty())
            return std::move(ex);
    throw NbdError("NBD server sent no extents for " + context);
}

} // namespace e2kvm::nbd

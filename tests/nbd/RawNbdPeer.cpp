#include "RawNbdPeer.h"

#include "nbd/Protocol.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace e2kvm::nbd::test {

uint32_t be32(const uint8_t* p) {
    return getU32(p);
}
uint64_t be64(const uint8_t* p) {
    return getU64(p);
}

RawNbdPeer::RawNbdPeer(const std::string& socketPath) {
    fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, socketPath.c_str(), sizeof sa.sun_path - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        throw std::runtime_error("connect " + socketPath + ": " + std::strerror(errno));
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

RawNbdPeer::~RawNbdPeer() {
    close(fd_);
}

void RawNbdPeer::readExact(void* buf, size_t len) {
    auto* p = static_cast<uint8_t*>(buf);
    while (len) {
        ssize_t n = recv(fd_, p, len, 0);
        if (n == 0)
            throw std::runtime_error("server closed the connection");
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
        }
        p += n;
        len -= size_t(n);
    }
}

void RawNbdPeer::sendRaw(const std::vector<uint8_t>& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        off += size_t(n);
    }
}

uint16_t RawNbdPeer::readGreeting() {
    uint8_t g[18];
    readExact(g, sizeof g);
    if (getU64(g) != kInitMagic || getU64(g + 8) != kOptMagic)
        throw std::runtime_error("bad greeting");
    return getU16(g + 16);
}

void RawNbdPeer::sendClientFlags(uint32_t flags) {
    WireWriter w;
    w.u32(flags);
    sendRaw(w.bytes);
}

void RawNbdPeer::sendOption(uint32_t option, const std::vector<uint8_t>& data) {
    WireWriter w;
    w.u64(kOptMagic);
    w.u32(option);
    w.u32(uint32_t(data.size()));
    w.raw(data.data(), data.size());
    sendRaw(w.bytes);
}

OptReply RawNbdPeer::readOptReply() {
    uint8_t h[20];
    readExact(h, 20);
    if (getU64(h) != kOptReplyMagic)
        throw std::runtime_error("bad option reply magic");
    OptReply r;
    r.option = getU32(h + 8);
    r.type = getU32(h + 12);
    uint32_t len = getU32(h + 16);
    if (len > (1u << 20))
        throw std::runtime_error("option reply too long");
    r.data.resize(len);
    readExact(r.data.data(), len);
    return r;
}

std::vector<OptReply> RawNbdPeer::optionUntilFinal(uint32_t option,
                                                   const std::vector<uint8_t>& data) {
    sendOption(option, data);
    std::vector<OptReply> out;
    for (;;) {
        out.push_back(readOptReply());
        uint32_t t = out.back().type;
        if (t == RepAck || (t & kRepErrBit))
            return out;
    }
}

uint16_t RawNbdPeer::negotiate(const std::string& exportName, bool structured,
                               const std::vector<std::string>& metaQueries) {
    readGreeting();
    sendClientFlags(kClientFixedNewstyle | kClientNoZeroes);
    if (structured && optionUntilFinal(OptStructuredReply, {}).back().type != RepAck)
        throw std::runtime_error("structured reply refused");
    if (!metaQueries.empty() &&
        optionUntilFinal(OptSetMetaContext, metaPayload(exportName, metaQueries)).back().type !=
            RepAck)
        throw std::runtime_error("set meta context refused");
    auto replies = optionUntilFinal(OptGo, infoPayload(exportName, {InfoBlockSize}));
    if (replies.back().type != RepAck)
        throw std::runtime_error("GO refused: " + replies.back().text());
    for (const auto& r : replies)
        if (r.type == RepInfo && r.data.size() == 12 && getU16(r.data.data()) == InfoExport)
            return getU16(r.data.data() + 10);
    throw std::runtime_error("no INFO_EXPORT");
}

void RawNbdPeer::sendRequest(uint16_t flags, uint16_t type, uint64_t cookie, uint64_t offset,
                             uint32_t length, const std::vector<uint8_t>& payload) {
    WireWriter w;
    w.u32(kRequestMagic);
    w.u16(flags);
    w.u16(type);
    w.u64(cookie);
    w.u64(offset);
    w.u32(length);
    w.raw(payload.data(), payload.size());
    sendRaw(w.bytes);
}

Chunk RawNbdPeer::readChunk(size_t readLength) {
    uint8_t h[20];
    readExact(h, 4);
    Chunk c;
    uint32_t magic = getU32(h);
    if (magic == kSimpleReplyMagic) {
        readExact(h + 4, 12);
        c.simple = true;
        c.error = getU32(h + 4);
        c.cookie = getU64(h + 8);
        if (c.error == 0 && readLength) {
            c.payload.resize(readLength);
            readExact(c.payload.data(), readLength);
        }
        return c;
    }
    if (magic != kStructuredReplyMagic)
        throw std::runtime_error("bad reply magic");
    readExact(h + 4, 16);
    c.flags = getU16(h + 4);
    c.type = getU16(h + 6);
    c.cookie = getU64(h + 8);
    uint32_t len = getU32(h + 16);
    if (len > (40u << 20))
        throw std::runtime_error("chunk too long");
    c.payload.resize(len);
    readExact(c.payload.data(), len);
    if ((c.type & 0x8000) && len >= 6) {
        c.error = getU32(c.payload.data());
        uint16_t ml = getU16(c.payload.data() + 4);
        if (size_t(ml) + 6 <= len)
            c.message.assign(c.payload.begin() + 6, c.payload.begin() + 6 + ml);
    }
    return c;
}

std::vector<Chunk> RawNbdPeer::readReply(size_t readLength) {
    std::vector<Chunk> out;
    for (;;) {
        out.push_back(readChunk(readLength));
        if (out.back().simple || (out.back().flags & kReplyFlagDone))
            return out;
    }
}

bool RawNbdPeer::closedByServer() {
    uint8_t b[4096];
    for (;;) {
        ssize_t n = recv(fd_, b, sizeof b, 0);
        if (n == 0)
            return true;
        if (n < 0)
            return errno == ECONNRESET;
    }
}

std::vector<uint8_t> infoPayload(const std::string& name, const std::vector<uint16_t>& infos) {
    WireWriter w;
    w.u32(uint32_t(name.size()));
    w.str(name);
    w.u16(uint16_t(infos.size()));
    for (auto i : infos)
        w.u16(i);
    return w.bytes;
}

std::vector<uint8_t> metaPayload(const std::string& name, const std::vector<std::string>& queries) {
    WireWriter w;
    w.u32(uint32_t(name.size()));
    w.str(name);
    w.u32(uint32_t(queries.size()));
    for (const auto& q : queries) {
        w.u32(uint32_t(q.size()));
        w.str(q);
    }
    return w.bytes;
}

} // namespace e2kvm::nbd::test

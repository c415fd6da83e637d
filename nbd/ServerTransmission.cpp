// Transmission phase of ServerConnection: request intake, validation, execution, replies.
#include "block/BlockError.h"
#include "nbd/BlockStatus.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"
#include "nbd/ServerConnection.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace e2kvm::nbd {

namespace {

constexpr unsigned kMaxInFlight = 32;
constexpr uint64_t kMaxInFlightBytes = 64u << 20;
constexpr size_t kMaxExtentsPerChunk = 131072;

std::string format(const char* fmt, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

} // namespace

ServerConnection::ServerConnection(std::unique_ptr<Transport> transport, ConnectionEnvironment env)
    : transport_(std::move(transport)), env_(std::move(env)) {}

ServerConnection::~ServerConnection() = default;

void ServerConnection::log(const std::string& message) const {
    if (env_.log)
        env_.log(message);
}

std::shared_ptr<Export> ServerConnection::currentExport() const {
    std::lock_guard lock(exportMutex_);
    return export_;
}

void ServerConnection::shutdown() {
    closing_ = true;
    std::lock_guard lock(transportMutex_);
    transport_->shutdown();
}

void ServerConnection::run() {
    try {
        if (negotiate() && !closing_)
            transmit();
    } catch (const ConnectionClosed&) {
    } catch (const std::exception& e) {
        log(std::string("connection ended: ") + e.what());
    }
}

bool ServerConnection::acquireBudget(uint64_t bytes) {
    std::unique_lock lock(budgetMutex_);
    budgetFreed_.wait(lock, [&] {
        return inFlight_ == 0 ||
               (inFlight_ < kMaxInFlight && inFlightBytes_ + bytes <= kMaxInFlightBytes);
    });
    ++inFlight_;
    inFlightBytes_ += bytes;
    return inFlight_ == 1;
}

void ServerConnection::releaseBudget(uint64_t bytes) {
    {
        std::lock_guard lock(budgetMutex_);
        --inFlight_;
        inFlightBytes_ -= bytes;
    }
    budgetFreed_.notify_all();
}

void ServerConnection::transmit() {
    WorkerPool pool(env_.workers);
    try {
        for (;;) {
            uint8_t hdr[28];
            transport_->readExact(hdr, sizeof hdr);
            if (getU32(hdr) != kRequestMagic)
                throw NbdError(format("invalid request magic 0x%x", getU32(hdr)));
            auto req = std::make_shared<Request>();
            req->flags = getU16(hdr + 4);
            req->type = getU16(hdr + 6);
            req->cookie = getU64(hdr + 8);
            req->offset = getU64(hdr + 16);
            req->length = getU32(hdr + 24);
            if (req->type == CmdDisc)
                break;
            bool payloadCmd =
                req->type == CmdRead || req->type == CmdWrite || req->type == CmdCache;
            if (payloadCmd && req->length > kMaxPayload) {
                sendError(req->cookie, NbdEinval,
                          format("len (%u) is larger than max len (%u)", req->length, kMaxPayload));
                if (req->type == CmdWrite) // the payload cannot be skipped safely
                    throw NbdError("oversized write request");
                continue;
            }
            uint64_t cost = (req->type == CmdRead || req->type == CmdWrite) ? req->length : 0;
            bool alone = acquireBudget(cost);
            if (req->type == CmdWrite) {
                try {
                    req->payload.resize(req->length);
                    transport_->readExact(req->payload.data(), req->length);
                } catch (...) {
                    releaseBudget(cost);
                    throw;
                }
            }
            auto job = [this, req, cost] {
                try {
                    process(*req);
                } catch (const std::exception& e) {
                    if (!closing_.exchange(true)) {
                        if (!dynamic_cast<const ConnectionClosed*>(&e))
                            log(std::string("connection ended: ") + e.what());
                        std::lock_guard lock(transportMutex_);
                        transport_->shutdown();
                    }
                }
                releaseBudget(cost);
            };
            // A client that waits for each reply before it sends the next request (nbdinfo
            // --map, qemu-img map) is served on this thread: handing one request at a time to
            // a worker costs two thread wake-ups per request and nothing runs in parallel
            // anyway. Reads and block status only; anything that may flush goes to the pool.
            bool readOnlyKind =
                req->type == CmdRead || req->type == CmdBlockStatus || req->type == CmdCache;
            if (alone && readOnlyKind && !(req->flags & CmdFlagFua) &&
                !transport_->inputPending()) {
                job();
                if (closing_)
                    break;
            } else {
                pool.submit(std::move(job));
            }
        }
    } catch (...) {
        pool.drain();
        throw;
    }
    pool.drain();
}

ServerConnection::Rejection ServerConnection::validate(const Request& req) const {
    const Export& exp = *export_;
    bool modifies = req.type == CmdWrite || req.type == CmdWriteZeroes || req.type == CmdTrim;
    // The NBD specification's error for a write to a read-only export (as nbdkit sends).
    if (modifies && exp.readOnly())
        return {NbdEperm, "Export is read-only"};
    if (req.offset > exp.size() || req.length > exp.size() - req.offset)
        return {NbdEinval,
                format("operation past EOF; From: %llu, Len: %u, Size: %llu",
                       (unsigned long long)req.offset, req.length, (unsigned long long)exp.size())};
    uint16_t valid = CmdFlagFua;
    if (req.type == CmdRead && structuredReply_)
        valid |= CmdFlagDf;
    else if (req.type == CmdWriteZeroes)
        valid |= CmdFlagNoHole | CmdFlagFastZero;
    else if (req.type == CmdBlockStatus)
        valid |= CmdFlagReqOne;
    if (req.flags & ~valid)
        return {NbdEinval, format("unsupported flags for command %s (got 0x%x)",
                                  commandName(req.type), unsigned(req.flags))};
    return {};
}

void ServerConnection::process(Request& req) {
    Rejection rejection = validate(req);
    if (rejection.error) {
        sendError(req.cookie, rejection.error, rejection.message);
        return;
    }
    block::BlockDriver& image = export_->image();
    try {
        switch (req.type) {
        case CmdRead:
            doRead(req);
            return;
        case CmdWrite:
            if (writesAsZeroes(req)) {
                unsigned zf = (req.flags & CmdFlagFua) ? block::ZeroFua : block::ZeroNone;
                if (export_->config().detectZeroes == DetectZeroes::Unmap &&
                    export_->config().unmap)
                    zf |= block::ZeroMayUnmap;
                image.writeZeroes(req.offset, req.length, zf);
                break;
            }
            image.write(req.offset, req.payload,
                        (req.flags & CmdFlagFua) ? block::WriteFua : block::WriteNone);
            break;
        case CmdFlush:
            image.flush();
            break;
        case CmdTrim:
            if (export_->config().unmap)
                image.discard(req.offset, req.length);
            if (req.flags & CmdFlagFua)
                image.flush();
            break;
        case CmdCache:
            break; // a hint; the page cache does the work on the next read
        case CmdWriteZeroes: {
            unsigned zf = block::ZeroNone;
            // Without unmap, QEMU still lets a format free its clusters (qcow2) but never
            // punches holes in the host file: a raw image's zero writes stay allocated.
            if (!(req.flags & CmdFlagNoHole) &&
                (export_->config().unmap || !image.unmapPunchesHostFile()))
                zf |= block::ZeroMayUnmap;
            if (req.flags & CmdFlagFua)
                zf |= block::ZeroFua;
            if (req.flags & CmdFlagFastZero)
                zf |= block::ZeroNoFallback;
            image.writeZeroes(req.offset, req.length, zf);
            break;
        }
        case CmdBlockStatus:
            doBlockStatus(req);
            return;
        default:
            sendError(req.cookie, NbdEinval,
                      format("invalid request type (%u) received", unsigned(req.type)));
            return;
        }
    } catch (const block::BlockError& e) {
        sendError(req.cookie, errnoToWire(e.errnoValue()), e.what());
        return;
    }
    sendSimple(req.cookie, 0);
}

bool ServerConnection::writesAsZeroes(const Request& req) const {
    if (export_->config().detectZeroes == DetectZeroes::Off || req.payload.empty())
        return false;
    return std::all_of(req.payload.begin(), req.payload.end(), [](uint8_t b) { return b == 0; });
}

void ServerConnection::doRead(Request& req) {
    block::BlockDriver& image = export_->image();
    if (req.flags & CmdFlagFua)
        image.flush();
    bool sparse = structuredReply_ && !(req.flags & CmdFlagDf) && req.length > 0;
    if (!sparse) {
        std::vector<uint8_t> data(req.length);
        image.read(req.offset, data);
        uint8_t hdr[28];
        int hlen;
        if (!structuredReply_) {
            putU32(hdr, kSimpleReplyMagic);
            putU32(hdr + 4, 0);
            putU64(hdr + 8, req.cookie);
            hlen = 16;
        } else {
            putU32(hdr, kStructuredReplyMagic);
            putU16(hdr + 4, kReplyFlagDone);
            putU16(hdr + 6, req.length ? ChunkOffsetData : ChunkNone);
            putU64(hdr + 8, req.cookie);
            putU32(hdr + 16, req.length ? req.length + 8 : 0);
            putU64(hdr + 20, req.offset);
            hlen = req.length ? 28 : 20;
        }
        iovec iov[2] = {{hdr, size_t(hlen)}, {data.data(), data.size()}};
        writeReply(iov, data.empty() ? 1 : 2);
        return;
    }

    std::vector<ReadSegment> segs = readSegments(image, req.offset, req.length);
    // Zero-copy path: one data segment of a raw file over a plain socket.
    bool direct = segs.size() == 1 && !segs[0].zero && segs[0].hostFd >= 0;
    std::vector<uint8_t> data;
    if (!direct) {
        size_t dataBytes = 0;
        for (const auto& s : segs)
            if (!s.zero)
                dataBytes += s.length;
        data.resize(dataBytes);
        size_t pos = 0;
        for (const auto& s : segs) {
            if (s.zero)
                continue;
            image.read(s.offset, std::span<uint8_t>(data.data() + pos, s.length));
            pos += s.length;
        }
    }
    std::vector<uint8_t> headers(segs.size() * 32);
    std::vector<iovec> iov;
    iov.reserve(segs.size() * 2);
    size_t pos = 0;
    for (size_t i = 0; i < segs.size(); ++i) {
        const ReadSegment& s = segs[i];
        uint8_t* h = headers.data() + i * 32;
        putU32(h, kStructuredReplyMagic);
        putU16(h + 4, i + 1 == segs.size() ? kReplyFlagDone : 0);
        putU64(h + 8, req.cookie);
        putU64(h + 20, s.offset);
        if (s.zero) {
            putU16(h + 6, ChunkOffsetHole);
            putU32(h + 16, 12);
            putU32(h + 28, uint32_t(s.length));
            iov.push_back({h, 32});
        } else {
            putU16(h + 6, ChunkOffsetData);
            putU32(h + 16, uint32_t(s.length + 8));
            iov.push_back({h, 28});
            if (!direct)
                iov.push_back({data.data() + pos, s.length});
            pos += s.length;
        }
    }
    std::lock_guard lock(writeMutex_);
    if (closing_)
        throw ConnectionClosed();
    transport_->writeAll(iov.data(), int(iov.size()));
    if (direct && !transport_->sendFile(segs[0].hostFd, segs[0].hostOffset, segs[0].length)) {
        // This transport cannot send from a file: copy through memory.
        std::vector<uint8_t> buf(segs[0].length);
        image.read(segs[0].offset, buf);
        transport_->writeAll(buf);
    }
}

void ServerConnection::doBlockStatus(const Request& req) {
    if (req.length == 0) {
        sendError(req.cookie, NbdEinval, "need non-zero length");
        return;
    }
    if (meta_.empty()) {
        sendError(req.cookie, NbdEinval, "CMD_BLOCK_STATUS not negotiated");
        return;
    }
    size_t maxExtents = (req.flags & CmdFlagReqOne) ? 1 : kMaxExtentsPerChunk;
    std::vector<std::vector<uint8_t>> chunks;
    for (size_t i = 0; i < meta_.size(); ++i) {
        auto extents = contextExtents(*export_, meta_[i], req.offset, req.length, maxExtents);
        std::vector<uint8_t> c(20 + 4 + extents.size() * 8);
        putU32(c.data(), kStructuredReplyMagic);
        putU16(c.data() + 4, i + 1 == meta_.size() ? kReplyFlagDone : 0);
        putU16(c.data() + 6, ChunkBlockStatus);
        putU64(c.data() + 8, req.cookie);
        putU32(c.data() + 16, uint32_t(4 + extents.size() * 8));
        putU32(c.data() + 20, meta_[i].id);
        for (size_t k = 0; k < extents.size(); ++k) {
            putU32(c.data() + 24 + k * 8, extents[k].length);
            putU32(c.data() + 28 + k * 8, extents[k].flags);
        }
        chunks.push_back(std::move(c));
    }
    std::vector<iovec> iov;
    for (auto& c : chunks)
        iov.push_back({c.data(), c.size()});
    writeReply(iov.data(), int(iov.size()));
}

void ServerConnection::sendSimple(uint64_t cookie, uint32_t error) {
    uint8_t hdr[16];
    putU32(hdr, kSimpleReplyMagic);
    putU32(hdr + 4, error);
    putU64(hdr + 8, cookie);
    iovec v{hdr, sizeof hdr};
    writeReply(&v, 1);
}

void ServerConnection::sendError(uint64_t cookie, uint32_t error, const std::string& message) {
    log("request failed: " + message);
    if (!structuredReply_) {
        sendSimple(cookie, error);
        return;
    }
    std::string msg = message.substr(0, kMaxStringSize);
    uint8_t hdr[26];
    putU32(hdr, kStructuredReplyMagic);
    putU16(hdr + 4, kReplyFlagDone);
    putU16(hdr + 6, ChunkError);
    putU64(hdr + 8, cookie);
    putU32(hdr + 16, uint32_t(6 + msg.size()));
    putU32(hdr + 20, error);
    putU16(hdr + 24, uint16_t(msg.size()));
    iovec iov[2] = {{hdr, sizeof hdr}, {msg.data(), msg.size()}};
    writeReply(iov, msg.empty() ? 1 : 2);
}

void ServerConnection::writeReply(const iovec* iov, int count) {
    std::lock_guard lock(writeMutex_);
    if (closing_)
        throw ConnectionClosed();
    transport_->writeAll(iov, count);
}

} // namespace e2kvm::nbd

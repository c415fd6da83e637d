#include "nbd/NbdImage.h"

#include "block/BlockError.h"
#include "block/ProtocolRegistry.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"

#include <algorithm>

namespace e2kvm::nbd {

namespace {

constexpr uint32_t kMaxCommandLength = 1u << 30; // per TRIM / WRITE_ZEROES / BLOCK_STATUS

std::unique_ptr<Client> connectFor(const std::string& uri, bool readOnly) {
    try {
        auto c = Client::connect(parseNbdUri(uri), {"base:allocation"});
        if (!readOnly && (c->flags() & TfReadOnly))
            throw block::BlockError(EPERM, uri + ": export is read-only");
        return c;
    } catch (const NbdError& e) {
        throw block::BlockError(EIO, uri + ": " + e.what());
    }
}

template <typename F> auto translate(const std::string& name, F&& f) {
    try {
        return f();
    } catch (const NbdError& e) {
        throw block::BlockError(EIO, name + ": " + e.what());
    }
}

} // namespace

NbdImage::NbdImage(const std::string& uri, bool readOnly)
    : BlockDriver(uri, readOnly), client_(connectFor(uri, readOnly)) {}

NbdImage::~NbdImage() = default;

void NbdImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    translate(filename(), [&] { client_->read(offset, buf); });
}

void NbdImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    translate(filename(), [&] { client_->write(offset, buf, writeFlags & block::WriteFua); });
}

void NbdImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    uint16_t f = 0;
    if (!(zeroFlags & block::ZeroMayUnmap))
        f |= CmdFlagNoHole;
    if (zeroFlags & block::ZeroFua)
        f |= CmdFlagFua;
    if (zeroFlags & block::ZeroNoFallback)
        f |= CmdFlagFastZero;
    translate(filename(), [&] {
        while (length > 0) {
            uint32_t n = uint32_t(std::min<uint64_t>(length, kMaxCommandLength));
            client_->writeZeroes(offset, n, f);
            offset += n;
            length -= n;
        }
    });
}

void NbdImage::doDiscard(uint64_t offset, uint64_t length) {
    if (!(client_->flags() & TfSendTrim))
        return; // a hint the server does not take
    translate(filename(), [&] {
        while (length > 0) {
            uint32_t n = uint32_t(std::min<uint64_t>(length, kMaxCommandLength));
            client_->trim(offset, n);
            offset += n;
            length -= n;
        }
    });
}

void NbdImage::doFlush() {
    translate(filename(), [&] { client_->flush(); });
}

block::LayerExtent NbdImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    block::LayerExtent e;
    uint32_t len = uint32_t(std::min<uint64_t>(maxLength, kMaxCommandLength));
    if (!client_->contexts().count("base:allocation")) {
        e.length = maxLength;
        e.kind = block::Allocation::Data;
        return e;
    }
    auto ex =
        translate(filename(), [&] { return client_->blockStatus("base:allocation", offset, len); });
    e.length = std::min<uint64_t>(ex[0].length ? ex[0].length : len, len);
    e.kind = (ex[0].flags & StateZero) ? block::Allocation::Zero : block::Allocation::Data;
    return e;
}

void NbdImage::doTruncate(uint64_t) {
    throw block::BlockError(ENOTSUP, filename() + ": NBD exports cannot be resized");
}

void registerNbdProtocol() {
    auto opener = [](const std::string& name, const block::OpenOptions& options) {
        return std::unique_ptr<block::BlockDriver>(new NbdImage(name, options.readOnly));
    };
    for (const char* prefix : {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://"})
        block::registerProtocol(prefix, opener);
}

} // namespace e2kvm::nbd

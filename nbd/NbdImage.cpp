#include "nbd/NbdImage.h"

#include "block/BlockError.h"
#include "block/ImageOptions.h"
#include "block/ProtocolRegistry.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"

#include <algorithm>

namespace e2kvm::nbd {

namespace {

constexpr uint32_t kMaxCommandLength = 1u << 30; // per TRIM / WRITE_ZEROES / BLOCK_STATUS

const char* const kAllocationContext = "base:allocation";

NbdUri parseTarget(const std::string& uri) {
    try {
        return parseNbdUri(uri);
    } catch (const NbdError& e) {
        throw block::BlockError(EINVAL, e.what());
    }
}

std::unique_ptr<Client> connectFor(const NbdUri& target, const NbdOpenOptions& options) {
    const std::string name = canonicalNbdName(target);
    std::unique_ptr<Client> c;
    try {
        std::string context =
            options.dirtyBitmap.empty() ? kAllocationContext : options.dirtyBitmap;
        c = Client::connect(target, {context});
    } catch (const NbdError& e) {
        // QEMU's words: "Failed to connect to 'PATH': ...", "Requested export not available",
        // and "Failed to ..." for a negotiation that breaks down.
        std::string what = e.what();
        if (what.rfind("Failed to ", 0) != 0 && what.rfind("Requested export", 0) != 0 &&
            what.rfind("address resolution", 0) != 0)
            what = "Failed to negotiate with the NBD server " + name + ": " + what;
        throw block::BlockError(EIO, what);
    }
    if (!options.readOnly && (c->flags() & TfReadOnly))
        throw block::BlockError(EPERM, name + ": export is read-only");
    if (!options.dirtyBitmap.empty() && !c->contexts().count(options.dirtyBitmap))
        throw block::BlockError(EINVAL,
                                "requested x-dirty-bitmap " + options.dirtyBitmap + " not found");
    return c;
}

NbdOpenOptions readOnlyOrNot(bool readOnly) {
    NbdOpenOptions o;
    o.readOnly = readOnly;
    return o;
}

template <typename F> auto translate(const std::string& name, F&& f) {
    try {
        return f();
    } catch (const NbdError& e) {
        throw block::BlockError(EIO, name + ": " + e.what());
    }
}

// A new connection for a reconnect: to the same export, which must not have shrunk.
std::unique_ptr<Client> reconnectFor(const NbdUri& target, const NbdOpenOptions& options,
                                     uint64_t size) {
    std::unique_ptr<Client> c = connectFor(target, options);
    if (c->size() < size)
        throw block::BlockError(EIO, "The NBD export shrank on reconnect");
    return c;
}

} // namespace

NbdImage::NbdImage(const NbdUri& target, const NbdOpenOptions& options)
    : BlockDriver(canonicalNbdName(target), options.readOnly), formatName_(options.formatName),
      statusContext_(options.dirtyBitmap.empty() ? kAllocationContext : options.dirtyBitmap) {
    std::unique_ptr<Client> first = connectFor(target, options);
    const uint64_t size = first->size();
    session_ = std::make_unique<ReconnectingSession>(
        std::move(first), [target, options, size] { return reconnectFor(target, options, size); },
        std::chrono::seconds(options.reconnectDelay));
}

NbdImage::NbdImage(const std::string& uri, bool readOnly)
    : NbdImage(parseTarget(uri), readOnlyOrNot(readOnly)) {}

NbdImage::~NbdImage() = default;

template <typename Request> auto NbdImage::onConnection(Request&& request) {
    return translate(filename(), [&] { return session_->run(request); });
}

void NbdImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    onConnection([&](Client& c) { c.read(offset, buf); });
}

void NbdImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    // A server that takes no FUA flag gets a flush after the write instead (if it flushes).
    bool fua = writeFlags & block::WriteFua;
    bool serverFua = properties().flags() & TfSendFua;
    onConnection([&](Client& c) { c.write(offset, buf, fua && serverFua); });
    if (fua && !serverFua)
        doFlush();
}

void NbdImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    uint16_t f = 0;
    if (!(zeroFlags & block::ZeroMayUnmap))
        f |= CmdFlagNoHole;
    if (zeroFlags & block::ZeroFua)
        f |= CmdFlagFua;
    if (zeroFlags & block::ZeroNoFallback)
        f |= CmdFlagFastZero;
    if (!(properties().flags() & TfSendWriteZeroes)) {
        // An older server: zeroes are written as data (unless the caller wants no fallback).
        if (zeroFlags & block::ZeroNoFallback)
            throw block::BlockError(ENOTSUP, filename() + ": the NBD server cannot write zeroes");
        std::vector<uint8_t> zeroes(size_t(std::min<uint64_t>(length, 1u << 20)));
        while (length > 0) {
            size_t n = size_t(std::min<uint64_t>(length, zeroes.size()));
            doWrite(offset, std::span<const uint8_t>(zeroes.data(), n),
                    (zeroFlags & block::ZeroFua) ? unsigned(block::WriteFua) : 0u);
            offset += n;
            length -= n;
        }
        return;
    }
    if ((f & CmdFlagFastZero) && !(properties().flags() & TfSendFastZero))
        throw block::BlockError(ENOTSUP, filename() + ": the NBD server cannot zero fast");
    if ((f & CmdFlagFua) && !(properties().flags() & TfSendFua))
        f &= uint16_t(~CmdFlagFua); // flushed below instead
    while (length > 0) {
        uint32_t n = uint32_t(std::min<uint64_t>(length, kMaxCommandLength));
        onConnection([&](Client& c) { c.writeZeroes(offset, n, f); });
        offset += n;
        length -= n;
    }
    if ((zeroFlags & block::ZeroFua) && !(properties().flags() & TfSendFua))
        doFlush();
}

void NbdImage::doDiscard(uint64_t offset, uint64_t length) {
    if (!(properties().flags() & TfSendTrim))
        return; // a hint the server does not take
    while (length > 0) {
        uint32_t n = uint32_t(std::min<uint64_t>(length, kMaxCommandLength));
        onConnection([&](Client& c) { c.trim(offset, n); });
        offset += n;
        length -= n;
    }
}

void NbdImage::doFlush() {
    if (!(properties().flags() & TfSendFlush))
        return; // the server has no cache to write back (or cannot say so): as QEMU's client
    onConnection([](Client& c) { c.flush(); });
}

block::LayerExtent NbdImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    block::LayerExtent e;
    uint32_t len = uint32_t(std::min<uint64_t>(maxLength, kMaxCommandLength));
    e.hostOffset = offset; // as QEMU's nbd driver: the data is at the same offset of the export
    if (!properties().contexts().count(statusContext_)) {
        e.length = maxLength;
        e.kind = block::Allocation::Data;
        return e;
    }
    auto ex = onConnection([&](Client& c) { return c.blockStatus(statusContext_, offset, len); });
    if (ex.empty())
        throw block::BlockError(EIO, filename() + ": server sent no extent for block status");
    e.length = std::min<uint64_t>(ex[0].length ? ex[0].length : len, len);
    uint32_t flags = ex[0].flags;
    // A server that advertises a minimum block size must not describe smaller pieces, but some
    // do at an unaligned end of file (QEMU's client tolerates it the same way): cut the extent
    // back to whole blocks, or report a lone partial block as a whole block of data.
    if (const uint64_t block = properties().blockSizes().minimum; block > 1 && e.length % block) {
        if (e.length > block) {
            e.length -= e.length % block;
        } else {
            e.length = std::min<uint64_t>(block, len);
            flags = 0;
        }
    }
    // QEMU reads any context's flags as base:allocation's: a dirty bitmap's "dirty" is the
    // "hole" bit, qemu:allocation-depth's depth 1 is "hole" and depth 2 "zero".
    const bool hole = flags & StateHole, zero = flags & StateZero;
    if (!hole) {
        e.kind = block::Allocation::Data;
        e.dataReadsAsZero = zero;
    } else if (zero) {
        e.kind = block::Allocation::Zero;
    } else {
        e.kind = block::Allocation::Unallocated;
        e.hostOffset.reset();
    }
    return e;
}

// As QEMU's nbd driver: an export keeps its size; asked to be as large or smaller, it already
// is (nothing changes), asked to grow, it cannot.
void NbdImage::doTruncate(uint64_t newSize) {
    if (newSize > size())
        throw block::BlockError(EINVAL, "Cannot grow NBD nodes");
}

void registerNbdProtocol() {
    auto opener = [](const std::string& name, const block::OpenOptions& options) {
        if (!options.format.empty() && options.format != "raw")
            throw block::BlockError(ENOTSUP, name + ": only the raw format is supported over NBD");
        NbdOpenOptions o;
        o.readOnly = options.readOnly;
        return std::unique_ptr<block::BlockDriver>(new NbdImage(parseTarget(name), o));
    };
    for (const char* prefix :
         {"nbd:", "nbds://", "nbd+unix://", "nbds+unix://", "nbd+tcp://", "nbds+tcp://"})
        block::registerProtocol(prefix, opener);
    block::registerDriver(
        "nbd", [](const block::DriverOptions& driverOptions, const block::OpenOptions& options) {
            NbdOpenOptions o;
            o.readOnly = options.readOnly;
            o.formatName = options.format.empty() ? "nbd" : options.format;
            if (driverOptions.count("reconnect-delay"))
                o.reconnectDelay = block::numberOption(driverOptions, "reconnect-delay");
            if (!options.format.empty() && options.format != "raw")
                throw block::BlockError(ENOTSUP, "only the raw format is supported over NBD");
            NbdUri target;
            try {
                target = nbdTargetFromOptions(driverOptions, &o.dirtyBitmap);
            } catch (const NbdError& e) {
                throw block::BlockError(EINVAL, e.what());
            }
            return std::unique_ptr<block::BlockDriver>(new NbdImage(target, o));
        });
}

} // namespace e2kvm::nbd

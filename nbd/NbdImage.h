#pragma once
// NbdImage: the "nbd" BlockDriver, an NBD export opened by URI (nbd://, nbd+unix://,
// nbds://, nbd:unix:...) or by QEMU's driver=nbd options, so that image tools can read, write
// and map remote disks; with a dirty bitmap context (x-dirty-bitmap) its map is the bitmap.
#include "block/BlockDriver.h"
#include "block/InFlightRequests.h"
#include "nbd/Client.h"
#include "nbd/ReconnectingSession.h"

#include <memory>

namespace e2kvm::nbd {

struct NbdOpenOptions {
    bool readOnly = true;
    // QEMU's x-dirty-bitmap: a meta context ("qemu:dirty-bitmap:NAME") whose extents the
    // block status reports instead of base:allocation, as QEMU does: a dirty extent is
    // unallocated (neither data nor zero), a clean one is data.
    std::string dirtyBitmap;
    // What `info` calls the format: "raw" for an image opened by name (QEMU probes raw over
    // the nbd protocol), "nbd" when opened with driver=nbd.
    std::string formatName = "raw";
    // QEMU's reconnect-delay (seconds): how long requests wait for a lost connection to be made
    // again (see ReconnectingSession); 0: they fail at once.
    uint64_t reconnectDelay = 0;
};

class NbdImage final : public block::BlockDriver, public block::InFlightRequests {
public:
    // Throws block::BlockError(EIO) when the server cannot be reached or refuses the export
    // (or the dirty bitmap context).
    NbdImage(const NbdUri& target, const NbdOpenOptions& options);
    NbdImage(const std::string& uri, bool readOnly);
    ~NbdImage() override;

    std::string formatName() const override { return formatName_; }
    // Opened as driver=nbd, QEMU's node is the first driver named nbd it registers, whose
    // protocol is nbd+unix whatever the transport.
    std::string protocolName() const override { return formatName_ == "nbd" ? "nbd+unix" : ""; }
    bool hasDriverInfo() const override { return false; }
    uint64_t size() const override { return session_->first().size(); }
    bool unallocatedReadsAsZero() const override { return false; }
    // As QEMU's nbd driver: what the export occupies on the server is not known.
    bool allocatedBytesKnown() const override { return false; }
    // Requests waiting for a reconnect fail now (QEMU's bdrv_cancel_in_flight).
    void cancelInFlight() override { session_->cancelInFlight(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    block::LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    const Client& properties() const { return session_->first(); }
    template <typename Request> auto onConnection(Request&& request);

    std::unique_ptr<ReconnectingSession> session_;
    std::string formatName_;
    std::string statusContext_; // base:allocation or the dirty bitmap context
};

// Makes block::openImage() accept NBD URIs (call once at program start).
void registerNbdProtocol();

} // namespace e2kvm::nbd

#pragma once
// NbdImage: the "nbd" BlockDriver, an NBD export opened by URI (nbd://, nbd+unix://,
// nbds://...) so that image tools can read, write and map remote disks.
#include "block/BlockDriver.h"
#include "nbd/Client.h"

#include <memory>

namespace e2kvm::nbd {

class NbdImage final : public block::BlockDriver {
public:
    // Throws block::BlockError(EIO) when the server cannot be reached or refuses the export.
    NbdImage(const std::string& uri, bool readOnly);
    ~NbdImage() override;

    std::string formatName() const override { return "nbd"; }
    uint64_t size() const override { return client_->size(); }
    Client& client() { return *client_; }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    block::LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    std::unique_ptr<Client> client_;
};

// Makes block::openImage() accept NBD URIs (call once at program start).
void registerNbdProtocol();

} // namespace e2kvm::nbd

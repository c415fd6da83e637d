#pragma once
// SshImage: QEMU's "ssh" protocol driver, a disk that is a file on another machine read and
// written over SFTP (see SftpConnection). Opened by an ssh:// URL or by driver=ssh options;
// it grows but never shrinks, as QEMU's.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/ssh/SftpConnection.h"
#include "block/ssh/SshOptions.h"

#include <memory>
#include <mutex>

namespace e2kvm::block::ssh {

class SshImage final : public BlockDriver {
public:
    // `formatName`: what `info` calls the format, "ssh" for a node opened as driver=ssh,
    // "raw" for the raw format QEMU puts over it otherwise.
    SshImage(const SshTarget& target, bool readOnly, std::string formatName);
    ~SshImage() override;

    std::string formatName() const override { return formatName_; }
    std::string protocolName() const override { return formatName_ == "ssh" ? "ssh" : ""; }
    bool hasDriverInfo() const override { return false; }
    bool allocatedBytesKnown() const override { return false; }
    uint64_t size() const override;

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    mutable std::mutex mutex_; // one SFTP request at a time
    std::unique_ptr<SftpConnection> connection_;
    std::string formatName_;
};

// An image named by an ssh:// URL: the ssh node, or the format `options.format` asks for (or
// probes) over it.
std::unique_ptr<BlockDriver> openSshUrl(const std::string& url, const OpenOptions& options);

// A driver=ssh node from its options (json:{"driver": "ssh", ...}, --image-opts).
std::unique_ptr<BlockDriver> openSshNode(const DriverOptions& options, const OpenOptions& open);

// The name a driver=ssh node with these options gets once open (its user, when none is
// given, the one running the program), without connecting. Throws as opening would.
std::string sshNodeName(const DriverOptions& options);

// Creates (or empties) the remote file an ssh:// URL names, `size` bytes long, as QEMU's
// `qemu-img create -f raw ssh://...`.
void createSshFile(const std::string& url, uint64_t size);

} // namespace e2kvm::block::ssh

#include "block/ssh/SshImage.h"

#include "block/BlockError.h"
#include "block/HeaderProbe.h"

#include <algorithm>
#include <array>
#include <vector>

namespace e2kvm::block::ssh {

namespace {

std::unique_ptr<SftpConnection> connect(const SshTarget& target, bool readOnly) {
    return std::make_unique<SftpConnection>(target, readOnly ? SftpConnection::Mode::ReadOnly
                                                             : SftpConnection::Mode::ReadWrite);
}

std::string nameOf(const SshTarget& target) {
    // The name until connected (without a user given, the one the session logs in as is
    // known only then: the constructor names the image again).
    return sshImageName(target, target.user);
}

} // namespace

SshImage::SshImage(const SshTarget& target, bool readOnly, std::string formatName)
    : BlockDriver(nameOf(target), readOnly), connection_(connect(target, readOnly)),
      formatName_(std::move(formatName)) {
    setFilename(sshImageName(target, connection_->user()));
}

SshImage::~SshImage() = default;

uint64_t SshImage::size() const {
    std::lock_guard lock(mutex_);
    return connection_->size();
}

void SshImage::doRead(uint64_t offset, std::span<uint8_t> buf) {
    std::lock_guard lock(mutex_);
    connection_->read(offset, buf);
}

void SshImage::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    std::lock_guard lock(mutex_);
    connection_->write(offset, buf);
    if (writeFlags & WriteFua)
        connection_->fsync();
}

void SshImage::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    if (zeroFlags & ZeroNoFallback)
        throw BlockError(ENOTSUP, filename() + ": the ssh driver can only write zeros slowly");
    std::vector<uint8_t> zeros(std::min<uint64_t>(length, 1u << 20), 0);
    std::lock_guard lock(mutex_);
    while (length > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(length, zeros.size()));
        connection_->write(offset, std::span<const uint8_t>(zeros.data(), n));
        offset += n;
        length -= n;
    }
    if (zeroFlags & ZeroFua)
        connection_->fsync();
}

void SshImage::doDiscard(uint64_t, uint64_t) {
    // SFTP cannot deallocate; a discard is only a hint, so it does nothing (as in QEMU).
}

void SshImage::doFlush() {
    std::lock_guard lock(mutex_);
    connection_->fsync();
}

LayerExtent SshImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    LayerExtent e;
    e.length = std::min(maxLength, size() - offset);
    e.kind = Allocation::Data;
    e.hostOffset = offset;
    return e;
}

void SshImage::doTruncate(uint64_t newSize) {
    std::lock_guard lock(mutex_);
    if (newSize < connection_->size())
        throw BlockError(ENOTSUP, "ssh driver does not support shrinking files");
    if (newSize > connection_->size())
        connection_->grow(newSize);
}

std::unique_ptr<BlockDriver> openSshUrl(const std::string& url, const OpenOptions& options) {
    const SshTarget target = sshTargetFromUrl(url);
    std::string format = options.format;
    if (format == "ssh")
        return std::make_unique<SshImage>(target, options.readOnly, "ssh");
    auto node = std::make_unique<SshImage>(target, options.readOnly, "raw");
    if (format.empty()) {
        std::array<uint8_t, kProbeBytes> head{};
        const size_t n = static_cast<size_t>(std::min<uint64_t>(head.size(), node->size()));
        node->read(0, std::span<uint8_t>(head.data(), n));
        format = openProbe(head);
    }
    if (format == "raw")
        return node;
    OpenOptions over = options;
    over.chain.clear();
    return openFormatOverNode(format, std::move(node), std::move(over));
}

std::unique_ptr<BlockDriver> openSshNode(const DriverOptions& options, const OpenOptions& open) {
    const SshTarget target = sshTargetFromOptions(options);
    // Under a format (driver=raw,file.driver=ssh) the node is the raw disk itself.
    const std::string format = open.format.empty() ? "ssh" : open.format;
    if (format != "ssh" && format != "raw")
        throw BlockError(ENOTSUP, "only the raw format can be put directly over an ssh node");
    return std::make_unique<SshImage>(target, open.readOnly, format);
}

std::string sshNodeName(const DriverOptions& options) {
    const SshTarget target = sshTargetFromOptions(options);
    return sshImageName(target, target.user.empty() ? currentUserName() : target.user);
}

void createSshFile(const std::string& url, uint64_t size) {
    SftpConnection file(sshTargetFromUrl(url), SftpConnection::Mode::Create);
    if (size > 0)
        file.grow(size);
}

} // namespace e2kvm::block::ssh

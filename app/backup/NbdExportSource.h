#pragma once
// NbdExportSource: a backup source that is an NBD export already holding a point in time
// (`e2kvm-nbd -r -B BITMAP`, `qemu-nbd -r -B BITMAP`, a remote host over TCP or TLS). With
// --bitmap the changed data of an incremental point is what the export's
// qemu:dirty-bitmap:BITMAP context marks. It keeps no checkpoints itself: the bitmap is the
// exporter's. NbdView, the reading side, also serves the QMP source's private export.
#include "app/backup/BackupSource.h"
#include "nbd/Client.h"
#include "nbd/NbdUri.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::backup {

class NbdView final : public SourceView {
public:
    // Connects up to `maxReaders` clients (more than one only if the server advertises
    // CAN_MULTI_CONN), the first with base:allocation and, if `bitmap` is not empty,
    // qemu:dirty-bitmap:BITMAP. Throws std::runtime_error naming the export.
    NbdView(const nbd::NbdUri& uri, const std::string& label, const std::string& bitmap,
            unsigned maxReaders);
    // The view of a point in time a VM exported with `bitmap` (if not empty): throws if the
    // export does not offer it.
    static std::unique_ptr<NbdView> openPointInTime(const nbd::NbdUri& uri,
                                                    const std::string& label,
                                                    const std::string& bitmap, unsigned maxReaders);
    uint64_t size() const override { return clients_.front()->size(); }
    unsigned readers() const override { return unsigned(clients_.size()); }
    void read(unsigned reader, uint64_t offset, std::span<uint8_t> buf) override;
    std::vector<ByteRange> allocation() override;
    std::optional<std::vector<ByteRange>> changed() override;
    // Whether the server agreed to the bitmap's context.
    bool hasBitmap() const { return !bitmapContext_.empty(); }
    uint32_t maxRequest() const;

private:
    std::vector<ByteRange> status(const std::string& context, uint32_t flagMask, bool zeroIsSet);

    std::string label_;
    std::vector<std::unique_ptr<nbd::Client>> clients_;
    bool allocationContext_ = false;
    std::string bitmapContext_;
};

class NbdExportSource final : public BackupSource {
public:
    // `tlsCreds`: a directory with ca-cert.pem (and client-cert.pem, client-key.pem), which
    // turns TLS on even for an nbd:// URI. Throws std::runtime_error on a malformed URI.
    NbdExportSource(const std::string& uri, std::string bitmap, const std::string& tlsCreds);
    std::string describe() const override;
    bool keepsCheckpoints() const override { return false; }
    std::unique_ptr<SourceView> open(const SourcePlan& plan, const NoteSink& note) override;
    std::string baseUsed() const override { return used_; }
    void finish(bool) override {}

private:
    std::string text_;
    nbd::NbdUri uri_;
    std::string bitmap_;
    std::string used_;
};

} // namespace e2kvm::backup

#pragma once
// Export: one image the NBD server offers under a name, with the metadata contexts it
// publishes (base:allocation always, qemu:allocation-depth and dirty bitmaps on request).
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"

#include <memory>
#include <string>
#include <vector>

namespace e2kvm::nbd {

struct ExportedBitmap {
    std::string name; // published as qemu:dirty-bitmap:NAME
    std::shared_ptr<const block::DirtyBitmap> bitmap;
};

// QEMU's detect-zeroes: writes of all-zero data become zero writes (Unmap: that may free
// space, when the export unmaps).
enum class DetectZeroes { Off, On, Unmap };

struct ExportConfig {
    std::string name;
    std::string description;
    std::shared_ptr<block::BlockDriver> image;
    bool readOnly = true;
    bool allocationDepth = false; // publish qemu:allocation-depth
    // In context-id order: the first gets id 2, the next 3, ...
    std::vector<ExportedBitmap> bitmaps;
    // TRIM and zero writes that allow it free space (qemu's discard=unmap). When false, as with
    // qemu-nbd's default --discard=ignore, TRIM is accepted and does nothing and a raw image's
    // zero writes keep the file allocated (qcow2 may still turn clusters into holes, as QEMU's
    // does).
    bool unmap = true;
    DetectZeroes detectZeroes = DetectZeroes::Off;
    // Minimum block size advertised when the client asks for block sizes (1, or 512 for a
    // probed raw image as QEMU does). A power of two <= 64 KiB.
    uint32_t minBlock = 1;
};

// The immutable, shared description of an export while clients use it.
class Export {
public:
    explicit Export(ExportConfig config);
    const ExportConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    block::BlockDriver& image() const { return *config_.image; }
    bool readOnly() const { return config_.readOnly; }
    // Size seen by clients: the image size rounded down to a multiple of 512.
    uint64_t size() const { return size_; }
    // Transmission flags for a client (multiConn: the server allows several connections).
    uint16_t transmissionFlags(bool structuredReply, bool multiConn) const;

private:
    ExportConfig config_;
    uint64_t size_;
};

} // namespace e2kvm::nbd

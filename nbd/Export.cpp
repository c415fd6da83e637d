#include "nbd/Export.h"

#include "nbd/NbdError.h"
#include "nbd/Protocol.h"

namespace e2kvm::nbd {

Export::Export(ExportConfig config) : config_(std::move(config)) {
    if (!config_.image)
        throw NbdError("export '" + config_.name + "' has no image");
    if (config_.name.size() > kMaxStringSize)
        throw NbdError("export name is longer than 4096 bytes");
    if (config_.description.size() > kMaxStringSize)
        throw NbdError("export description is longer than 4096 bytes");
    uint32_t mb = config_.minBlock;
    if (mb == 0 || (mb & (mb - 1)) != 0 || mb > 65536)
        throw NbdError("export '" + config_.name +
                       "': minimum block size must be a power of 2 <= 64 KiB");
    if (!config_.readOnly && config_.image->readOnly())
        throw NbdError("export '" + config_.name + "': image is open read-only");
    for (const auto& b : config_.bitmaps)
        if (!b.bitmap || b.name.empty() || b.name.size() > kMaxStringSize - 20)
            throw NbdError("export '" + config_.name + "': invalid bitmap '" + b.name + "'");
    size_ = config_.image->size() & ~uint64_t(511);
}

uint16_t Export::transmissionFlags(bool structuredReply, bool multiConn) const {
    uint16_t f = TfHasFlags | TfSendFlush | TfSendFua | TfSendCache;
    if (config_.readOnly)
        f |= TfReadOnly;
    else
        f |= TfSendTrim | TfSendWriteZeroes | TfSendFastZero;
    if (structuredReply)
        f |= TfSendDf;
    if (multiConn)
        f |= TfCanMultiConn;
    return f;
}

} // namespace e2kvm::nbd

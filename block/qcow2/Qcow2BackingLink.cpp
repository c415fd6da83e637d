// Qcow2Driver's live backing-chain changes: the backing link replaced while the image is in
// use, and the backing file name in the header rewritten (QEMU's change-backing-file).
#include "Qcow2Driver.h"
#include "Qcow2Format.h"

#include <algorithm>

namespace e2kvm::block::qcow2 {

std::shared_ptr<BlockDriver> Qcow2Driver::backingImage() const {
    std::lock_guard lock(meta_);
    return backing_;
}

void Qcow2Driver::replaceBacking(std::shared_ptr<BlockDriver> backing) {
    std::shared_ptr<BlockDriver> old;
    {
        std::unique_lock gate(gate_); // no read or write is between mapping and backing read
        std::lock_guard lock(meta_);
        old = std::move(backing_);
        backing_ = std::move(backing);
    }
    // The old chain is let go of outside the locks (closing it may flush).
}

void Qcow2Driver::changeBackingFile(const std::string& name, const std::string& format) {
    checkWritable("change backing file");
    if (name.size() > kMaxBackingNameLength)
        throwError(EINVAL, filename(), "Backing file name too long");
    if (!name.empty() && external_ && externalRaw_)
        throwError(EINVAL, filename(),
                   "Cannot use a backing file with a raw external data file (data-file-raw)");
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    // Whatever was written so far is durable before the header names another backing file:
    // a crash in between leaves either the old header or the new one over complete data.
    barrier();
    Qcow2Header next = h_;
    next.backingFile = name;
    next.backingFormat = name.empty() ? std::string() : format;
    std::vector<uint8_t> buf = serializeHeader(next, filename()); // throws if it does not fit
    uint64_t clusterEnd = std::min<uint64_t>(cs_, file_.size());
    buf.resize(size_t(std::max<uint64_t>(clusterEnd, buf.size())), 0);
    file_.write(0, buf);
    file_.sync();
    h_ = std::move(next);
    fullBackingPath_ = name.empty() ? std::string() : resolveBackingPath(filename(), name);
    autoBackingFile_ = name;
}

void Qcow2Driver::noteBackingFileChanged(const std::string& name, const std::string& format) {
    std::lock_guard lock(meta_);
    h_.backingFile = name;
    h_.backingFormat = name.empty() ? std::string() : format;
    fullBackingPath_ = name.empty() ? std::string() : resolveBackingPath(filename(), name);
    autoBackingFile_ = name;
}

std::string Qcow2Driver::autoBackingFile() const {
    std::lock_guard lock(meta_);
    return autoBackingFile_;
}

} // namespace e2kvm::block::qcow2

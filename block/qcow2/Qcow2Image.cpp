#include "Qcow2Image.h"

#include "Qcow2Driver.h"
#include "Qcow2Format.h"
#include "Qcow2Header.h"

#include <algorithm>

namespace e2kvm::block {

std::unique_ptr<BlockDriver> Qcow2Image::open(const std::string& path, OpenOptions options) {
    return std::make_unique<qcow2::Qcow2Driver>(path, options);
}

void Qcow2Image::setBackingLink(const std::string& path, const std::string& backingName,
                                const std::string& backingFormat) {
    HostFile file(path, HostFile::Mode::ReadWrite);
    qcow2::Qcow2Header h = qcow2::readHeader(file);
    if (backingName.size() > qcow2::kMaxBackingNameLength)
        throwError(EINVAL, path, "Backing file name too long");
    if (!backingName.empty() && h.hasDataFile() && h.dataFileRaw())
        throwError(EINVAL, path,
                   "a backing file cannot be set: the image has a raw external data file "
                   "(data-file-raw), which must be the whole disk");
    h.backingFile = backingName;
    h.backingFormat = backingName.empty() ? std::string() : backingFormat;
    std::vector<uint8_t> buf = qcow2::serializeHeader(h, path);
    // Cluster 0 holds nothing but the header: clear what the old, longer one left behind.
    uint64_t clusterEnd = std::min<uint64_t>(h.clusterSize(), file.size());
    buf.resize(size_t(std::max<uint64_t>(clusterEnd, buf.size())), 0);
    file.write(0, buf);
    file.sync();
}

} // namespace e2kvm::block

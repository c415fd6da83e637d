#include "ImageCheck.h"

#include "BlockError.h"
#include "HostFile.h"
#include "ImageOpen.h"
#include "qcow2/Qcow2Check.h"

namespace e2kvm::block {

CheckResult checkImage(const std::string& path, const std::string& format, RepairMode repair) {
    std::string fmt = format.empty() ? probeFormat(path) : format;
    if (fmt != "qcow2")
        throw BlockError(ENOTSUP, "This image format does not support checks");
    if (probeFormat(path) != "qcow2")
        throwError(EINVAL, path, "Image is not in qcow2 format");
    HostFile file(path, repair == RepairMode::None ? HostFile::Mode::ReadOnly
                                                   : HostFile::Mode::ReadWrite);
    return qcow2::checkQcow2(file, repair);
}

} // namespace e2kvm::block

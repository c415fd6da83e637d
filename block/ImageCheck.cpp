#include "ImageCheck.h"

#include "BlockError.h"
#include "HostFile.h"
#include "ImageOpen.h"
#include "ProtocolRegistry.h"
#include "qcow2/Qcow2Check.h"

namespace e2kvm::block {

CheckResult checkImage(const std::string& path, const std::string& format, RepairMode repair,
                       bool forceShare) {
    std::string fmt = format.empty() ? probeFormat(path) : format;
    if (fmt != "qcow2")
        throw BlockError(ENOTSUP, "This image format does not support checks");
    if (probeFormat(path) != "qcow2")
        throw ImageOpenError(EINVAL, "Image is not in qcow2 format");
    OpenOptions options;
    options.readOnly = repair == RepairMode::None;
    options.forceShare = forceShare;
    if (forceShare && !options.readOnly)
        throwError(EINVAL, path, "force-share=on can only be used with read-only images");
    // A protocol name (an NBD export) is checked through its node, as qemu-img opens it.
    std::shared_ptr<BlockDriver> node;
    if (isRegisteredProtocol(path)) {
        OpenOptions raw;
        raw.format = "raw";
        raw.readOnly = options.readOnly;
        node = openRegisteredProtocol(path, raw);
    }
    HostFile file(path, options.readOnly ? HostFile::Mode::ReadOnly : HostFile::Mode::ReadWrite,
                  node);
    file.lock(imageLocks(options, true));
    CheckResult result = qcow2::checkQcow2(file, repair);
    if (result.abortErrno || (result.leaksFixed == 0 && result.corruptionsFixed == 0))
        return result;
    if (result.detached) {
        result.recheckErrno = ENOMEDIUM;
        return result;
    }
    // As qemu-img does: after a repair, report the state the image is in now (what is left,
    // check errors, image end offset, statistics), keeping the counts of what was fixed and the
    // messages.
    CheckResult after = qcow2::checkQcow2(file, RepairMode::None);
    after.leaksFixed = result.leaksFixed;
    after.corruptionsFixed = result.corruptionsFixed;
    after.messages.insert(after.messages.begin(), result.messages.begin(), result.messages.end());
    return after;
}

} // namespace e2kvm::block

#include "app/qmp/commands/JobTarget.h"

#include "app/qmp/QmpError.h"
#include "block/ImageOpen.h"

namespace e2kvm::qmp {

block::ErrorPolicy errorPolicyFromName(const std::string& name) {
    if (name == "ignore")
        return block::ErrorPolicy::Ignore;
    if (name == "enospc")
        return block::ErrorPolicy::Enospc;
    if (name == "stop")
        return block::ErrorPolicy::Stop;
    if (name == "auto")
        return block::ErrorPolicy::Auto;
    return block::ErrorPolicy::Report;
}

void createJobTarget(const vm::BlockNode& source, const std::string& target,
                     const std::string& format, const std::string& sync) {
    block::CreateOptions co;
    // The file protocol as the format: a plain file of the source's size, which raw is too.
    co.format = format == "file" ? "raw" : format;
    co.size = source.image->size();
    co.sizeGiven = true;
    if (format != "qcow2" && format != "raw" && format != "file")
        throw QmpError("Format driver '" + format + "' does not support image creation");
    if (format == "qcow2" && sync == "top" && source.image->backing()) {
        co.backingFile = source.image->backing()->filename();
        co.backingFormat = source.image->backing()->formatName();
    } else if (format == "qcow2" && sync == "none") {
        co.backingFile = source.file;
        co.backingFormat = source.format;
    }
    try {
        block::createImage(target, co);
    } catch (const std::exception& e) {
        std::string message = e.what();
        if (message.rfind(target + ": ", 0) == 0)
            message.erase(0, target.size() + 2);
        throw QmpError("Could not create '" + target + "': " + message);
    }
}

} // namespace e2kvm::qmp

#include "QemuDrivers.h"

namespace e2kvm::img {

bool isNonCreatingQemuDriver(const std::string& name) {
    for (const char* driver :
         {"blkdebug", "blkverify", "bochs", "cloop", "compress", "copy-before-write",
          "copy-on-read", "dmg", "null-aio", "null-co", "preallocate", "quorum", "replication",
          "snapshot-access", "throttle", "vvfat"})
        if (name == driver)
            return true;
    return false;
}

std::string cannotCreateMessage(const std::string& format) {
    if (isNonCreatingQemuDriver(format))
        return "Format driver '" + format + "' does not support image creation";
    return "Unknown file format '" + format + "'";
}

} // namespace e2kvm::img

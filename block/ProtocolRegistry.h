#pragma once
// ProtocolRegistry: openers for image names that are protocol URIs ("nbd://...",
// "nbd+unix://..."), implemented outside the block library (which must not depend on them).
// openImage() consults it first; nbd::registerNbdProtocol() registers the NBD schemes.
#include "BlockDriver.h"
#include "ImageOpen.h"

#include <functional>
#include <memory>
#include <string>

namespace e2kvm::block {

using ProtocolOpener =
    std::function<std::unique_ptr<BlockDriver>(const std::string& name, const OpenOptions&)>;

// `prefix` is matched at the start of the image name, e.g. "nbd://". Thread-safe.
void registerProtocol(const std::string& prefix, ProtocolOpener opener);
// The driver for `name` if a registered prefix matches, else nullptr.
std::unique_ptr<BlockDriver> openRegisteredProtocol(const std::string& name,
                                                    const OpenOptions& options);

} // namespace e2kvm::block

#pragma once
// ProtocolRegistry: openers for image names that are protocol URIs ("nbd://...",
// "nbd+unix://..."), implemented outside the block library (which must not depend on them).
// openImage() consults it first; nbd::registerNbdProtocol() registers the NBD schemes.
#include "BlockDriver.h"
#include "ImageOpen.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace e2kvm::block {

using ProtocolOpener =
    std::function<std::unique_ptr<BlockDriver>(const std::string& name, const OpenOptions&)>;

// `prefix` is matched at the start of the image name, e.g. "nbd://". Thread-safe.
void registerProtocol(const std::string& prefix, ProtocolOpener opener);
// Whether a registered prefix matches `name`.
bool isRegisteredProtocol(const std::string& name);
// The driver for `name` if a registered prefix matches, else nullptr.
std::unique_ptr<BlockDriver> openRegisteredProtocol(const std::string& name,
                                                    const OpenOptions& options);

// Openers for --image-opts drivers implemented outside the block library (driver=nbd): they get
// the driver's own options (for driver=raw,file.driver=nbd,file.path=..., those under "file.",
// without the prefix) and the open options (format: "" for the driver itself, "raw" when a
// raw format layer is asked for on top of it).
using DriverOpener = std::function<std::unique_ptr<BlockDriver>(
    const std::map<std::string, std::string>& driverOptions, const OpenOptions&)>;
void registerDriver(const std::string& driver, DriverOpener opener);
// The image from the opener registered for `driver`, or nullptr if there is none.
std::unique_ptr<BlockDriver>
openRegisteredDriver(const std::string& driver,
                     const std::map<std::string, std::string>& driverOptions,
                     const OpenOptions& options);

} // namespace e2kvm::block

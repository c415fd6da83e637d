#pragma once
// ImageOptions: QEMU's --image-opts strings ("driver=qcow2,file.filename=a.qcow2",
// "driver=nbd,server.type=unix,server.path=S,export=E"): parsing them into key/value pairs and
// opening the image they describe (formats here, protocols through ProtocolRegistry).
#include "BlockDriver.h"
#include "ImageOpen.h"

#include <map>
#include <memory>
#include <string>

namespace e2kvm::block {

// Dotted key -> value, e.g. {"driver": "nbd", "server.path": "/run/s.sock"}.
using DriverOptions = std::map<std::string, std::string>;

// Splits "k1=v1,k2=v2" (",," stands for a comma inside a value). Throws BlockError(EINVAL)
// for an element without '=' or an empty key.
DriverOptions parseImageOptions(const std::string& text);

// QEMU's boolean option words (on/off, true/false, yes/no); `fallback` when `key` is absent.
bool booleanOption(const DriverOptions& options, const std::string& key, bool fallback);
// A whole non-negative number (any base strtoull knows); `key` must be present.
uint64_t numberOption(const DriverOptions& options, const std::string& key);

// The options under `prefix` ("file.") with the prefix removed.
DriverOptions subOptions(const DriverOptions& options, const std::string& prefix);

// Opens the image `options` describe: driver=raw|qcow2 with file.filename=PATH (or a
// protocol below, file.driver=nbd,...), driver=file, or a registered driver (nbd).
// `open.format` is ignored (the options name the driver). Throws BlockError.
std::unique_ptr<BlockDriver> openImageFromOptions(const DriverOptions& options, OpenOptions open);

} // namespace e2kvm::block

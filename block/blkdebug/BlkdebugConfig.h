#pragma once
// BlkdebugConfig: the rules of a blkdebug injector as QEMU takes them: from a config file
// ("[inject-error]" and "[set-state]" sections of `key = "value"` lines) and from options
// ("inject-error.0.event=l2_load", "set-state.1.new_state=2", the flattened form of QMP's
// lists), and the name "blkdebug:CONFIG:IMAGE" that puts an injector under a format.
#include "Blkdebug.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace e2kvm::block {

// Reads `configFile` (if not empty), then the rules in `options` (keys of the blkdebug node:
// "inject-error.N.KEY", "set-state.N.KEY"; other keys are ignored). Throws BlockError with
// QEMU's messages for an unreadable file, a parse error, an unknown event or key.
std::shared_ptr<Blkdebug> makeBlkdebug(const std::string& configFile,
                                       const std::map<std::string, std::string>& options);

struct BlkdebugName {
    std::string configFile; // "" for "blkdebug::IMAGE"
    std::string image;
};
// Splits "blkdebug:CONFIG:IMAGE"; nullopt if `name` does not start with "blkdebug:". Throws
// BlockError(EINVAL) when the second colon is missing.
std::optional<BlkdebugName> parseBlkdebugName(const std::string& name);

} // namespace e2kvm::block

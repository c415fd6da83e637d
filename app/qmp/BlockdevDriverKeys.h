#pragma once
// BlockdevDriverKeys: which options each block driver of the block library takes, as QEMU's
// drivers define them (qcow2's l2-cache-size, blkdebug's align and inject-error list,
// blkverify's test and raw children, ...). Used to refuse what a driver does not know, with
// the key and node QEMU names: -drive's "Block format 'qcow2' does not support the option
// 'x'" and blockdev-add's "Parameter 'image.x' is unexpected".
#include <map>
#include <optional>
#include <string>

namespace e2kvm::qmp {

// Whether the block library opens `driver` from options (openImageFromOptions).
bool knownBlockDriver(const std::string& driver);

// The drivers -drive format=help lists: those above plus the filters only blockdev-add makes
// (copy-before-write, snapshot-access), space-separated and sorted.
std::string blockDriverNames();

// Whether QEMU's messages call `driver` a format ("Block format") rather than a protocol.
bool isFormatDriver(const std::string& driver);

struct UnknownDriverKey {
    std::string driver;         // the driver of the node the key addresses
    std::string key;            // relative to that node ("foo")
    std::string path;           // from the top ("image.foo")
    bool unknownDriver = false; // the node's driver itself is not one we know (key "driver")
};

// The first key of `options` (dotted; "driver" names the top node's driver, `defaultDriver`
// when absent) that the driver of the node it addresses does not take; nothing when all are
// known. Children without a driver are checked as `file` nodes where QEMU defaults to one.
std::optional<UnknownDriverKey> unknownDriverKey(const std::map<std::string, std::string>& options,
                                                 const std::string& defaultDriver);

} // namespace e2kvm::qmp

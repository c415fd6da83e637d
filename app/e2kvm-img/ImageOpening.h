#pragma once
// Opening images for a command: by file name (format probing with qemu-img's warning for probed
// raw images opened for writing), by NBD URI, or by --image-opts option string; and the
// output-format switch shared by info/map/check.
#include "block/BlockDriver.h"

#include <memory>
#include <string>

namespace e2kvm::img {

struct OpenRequest {
    std::string format; // "" = probe
    bool writable = false;
    bool openBacking = true;
    bool openDataFile = true;  // false: metadata only (info)
    bool forceShare = false;   // -U: take QEMU's image locks without refusing others' writes
    unsigned unshare = 0;      // block::ImagePermission bits others may not hold meanwhile
    bool metadataOnly = false; // info: holds no read permission (as qemu-img info)
    // --image-opts: the name is QEMU's option string ("driver=qcow2,file.filename=X",
    // "driver=nbd,server.type=unix,server.path=S,x-dirty-bitmap=qemu:dirty-bitmap:B").
    bool imageOpts = false;
};

std::unique_ptr<block::BlockDriver> openForCommand(const std::string& path, const OpenRequest& req);
// Whether `name` is opened through a protocol (an NBD URI) rather than as a local file.
bool isProtocolName(const std::string& name);

enum class OutputFormat { Human, Json };
// "human" / "json"; throws CommandFailure (no usage hint, as qemu-img) otherwise.
OutputFormat parseOutputFormat(const std::string& text);

// Parses a size argument; throws UsageError with qemu-img's wording on garbage.
uint64_t parseSizeArgument(const std::string& text);

// A number option or operand with qemu-img's size suffixes ("bs", "buffer size", "offset"),
// between min and max; throws CommandFailure with qemu-img's "Invalid NAME specified..." text.
uint64_t parseNumberOption(const char* name, const std::string& text, uint64_t min, uint64_t max);

} // namespace e2kvm::img

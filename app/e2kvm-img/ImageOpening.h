#pragma once
// Opening images for a command: format probing with qemu-img's warning for probed raw images
// opened for writing, and the output-format switch shared by info/map/check.
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
};

std::unique_ptr<block::BlockDriver> openForCommand(const std::string& path, const OpenRequest& req);

enum class OutputFormat { Human, Json };
// "human" / "json"; throws UsageError otherwise.
OutputFormat parseOutputFormat(const std::string& text);

// Parses a size argument; throws UsageError with qemu-img's wording on garbage.
uint64_t parseSizeArgument(const std::string& text);

} // namespace e2kvm::img

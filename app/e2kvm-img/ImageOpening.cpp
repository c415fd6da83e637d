#include "ImageOpening.h"

#include "CommandError.h"
#include "CommandOptions.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/JsonFilename.h"
#include "block/OpenFailureText.h"
#include "nbd/NbdUri.h"

#include <cstdio>

namespace e2kvm::img {

std::unique_ptr<block::BlockDriver> openForCommand(const std::string& path,
                                                   const OpenRequest& req) {
    block::OpenOptions options;
    options.format = req.format;
    options.readOnly = !req.writable;
    options.openBacking = req.openBacking;
    options.openDataFile = req.openDataFile;
    options.forceShare = req.forceShare;
    options.unshare = req.unshare;
    options.metadataOnly = req.metadataOnly;
    if (req.imageOpts)
        return block::openImageFromOptions(block::parseImageOptions(path), std::move(options));
    if (isProtocolName(path) && !block::isJsonFilename(path)) {
        if (req.format.empty() && req.writable)
            std::fputs(block::probedRawWarning(path).c_str(), stderr);
        return block::openImage(path, std::move(options));
    }
    // As qemu-img: "Could not open 'PATH': " and the reason in QEMU's words.
    try {
        if (req.format.empty() && !block::isJsonFilename(path)) {
            options.format = block::probeFormat(path);
            options.formatProbed = true;
            if (req.writable && options.format == "raw")
                std::fputs(block::probedRawWarning(path).c_str(), stderr);
        }
        return block::openImage(path, std::move(options));
    } catch (const block::BlockError& e) {
        throw block::BlockError(e.errnoValue(), "Could not open '" + path +
                                                    "': " + block::openFailureText(path, e.what()));
    }
}

bool isProtocolName(const std::string& name) {
    return nbd::isNbdUri(name);
}

OutputFormat parseOutputFormat(const std::string& text) {
    if (text == "human")
        return OutputFormat::Human;
    if (text == "json")
        return OutputFormat::Json;
    throw CommandFailure("--output must be used with human or json as argument.");
}

uint64_t parseSizeArgument(const std::string& text) {
    try {
        return block::parseSize(text);
    } catch (const block::BlockError&) {
        throw CommandFailure("Invalid image size specified. You may use k, M, G, T, P or E "
                             "suffixes for\n" +
                             std::string(kToolName) +
                             ": kilobytes, megabytes, gigabytes, terabytes, petabytes "
                             "and exabytes.");
    }
}

} // namespace e2kvm::img

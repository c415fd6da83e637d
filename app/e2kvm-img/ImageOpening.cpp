#include "ImageOpening.h"

#include "CommandError.h"
#include "CommandOptions.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/JsonFilename.h"
#include "block/OpenFailureText.h"
#include "nbd/NbdUri.h"

#include <cstdio>
#include <string>

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
    if (req.imageOpts) {
        block::DriverOptions parsed = block::parseImageOptions(path);
        auto share = parsed.find("force-share");
        if (req.forceShare && share != parsed.end() && share->second != "on")
            throw CommandFailure("--force-share/-U conflicts with image options");
        // As qemu-img: the reason after "Could not open 'OPTIONS': ".
        try {
            return block::openImageFromOptions(parsed, std::move(options));
        } catch (const block::BlockError& e) {
            throw block::BlockError(e.errnoValue(), "Could not open '" + path + "': " + e.what());
        }
    }
    if (isProtocolName(path) && !block::isJsonFilename(path)) {
        // The format is probed from the export's first bytes: only raw is restricted.
        auto image = block::openImage(path, std::move(options));
        if (req.format.empty() && req.writable && image->formatName() == "raw")
            std::fputs(block::probedRawWarning(path).c_str(), stderr);
        return image;
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

uint64_t parseNumberOption(const char* name, const std::string& text, uint64_t min, uint64_t max) {
    uint64_t value = 0;
    bool tooLarge = false;
    try {
        value = block::parseSize(text);
    } catch (const block::BlockError& e) {
        // parseSize refuses overflowing numbers as garbage; tell them apart as QEMU does.
        bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits)
            throw CommandFailure(std::string("Invalid ") + name +
                                 " specified. You may use k, M, G, T, P or E suffixes for\n" +
                                 kToolName +
                                 ": kilobytes, megabytes, gigabytes, terabytes, petabytes and "
                                 "exabytes.");
        tooLarge = true;
    }
    if (tooLarge || value > max || value < min)
        throw CommandFailure(std::string("Invalid ") + name + " specified. Must be between " +
                             std::to_string(min) + " and " + std::to_string(max) + ".");
    return value;
}

} // namespace e2kvm::img

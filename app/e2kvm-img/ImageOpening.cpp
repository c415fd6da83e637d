#include "ImageOpening.h"

#include "CommandError.h"
#include "block/ImageOpen.h"

#include <cstdio>

namespace e2kvm::img {

std::unique_ptr<block::BlockDriver> openForCommand(const std::string& path,
                                                   const OpenRequest& req) {
    block::OpenOptions options;
    options.format = req.format;
    options.readOnly = !req.writable;
    options.openBacking = req.openBacking;
    options.openDataFile = req.openDataFile;
    if (req.format.empty()) {
        options.format = block::probeFormat(path);
        if (req.writable && options.format == "raw")
            std::fprintf(stderr,
                         "WARNING: Image format was not specified for '%s' and probing guessed "
                         "raw.\n"
                         "         Automatically detecting the format is dangerous for raw "
                         "images, write operations on block 0 will be restricted.\n"
                         "         Specify the 'raw' format explicitly to remove the "
                         "restrictions.\n",
                         path.c_str());
    }
    return block::openImage(path, std::move(options));
}

OutputFormat parseOutputFormat(const std::string& text) {
    if (text == "human")
        return OutputFormat::Human;
    if (text == "json")
        return OutputFormat::Json;
    throw UsageError("--output must be used with human or json as argument.");
}

uint64_t parseSizeArgument(const std::string& text) {
    try {
        return block::parseSize(text);
    } catch (const block::BlockError&) {
        throw CommandFailure("Invalid image size specified. You may use k, M, G, T, P or E "
                             "suffixes for\n"
                             "e2kvm-img: kilobytes, megabytes, gigabytes, terabytes, petabytes "
                             "and exabytes.");
    }
}

} // namespace e2kvm::img

// e2kvm-img dd: copies an image, or part of it, into a new image of the output format, block
// by block, as `qemu-img dd` (bs=, count=, skip=, if=, of= operands).
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "CreateOptionList.h"
#include "ImageOpening.h"
#include "block/ImageOpen.h"

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace e2kvm::img {

int runDd(int argc, char** argv) {
    enum { OptObject = 256, OptImageOpts };
    CommandOptions opts(argc, argv, "f:O:U",
                        {{"object", required_argument, nullptr, OptObject},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format, outFormat = "raw";
    bool forceShare = false, imageOpts = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'O':
            outFormat = opts.arg();
            break;
        case 'U':
            forceShare = true;
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        default:
            break;
        }
    }
    const uint64_t kMax = uint64_t(INT64_MAX);
    uint64_t bs = 512, count = 0, skip = 0;
    bool haveCount = false, haveSkip = false, haveIf = false, haveOf = false;
    std::string input, output;
    for (const std::string& operand : opts.positional()) {
        auto eq = operand.find('=');
        std::string key = operand.substr(0, eq), value;
        if (eq != std::string::npos)
            value = operand.substr(eq + 1);
        if (eq == std::string::npos)
            throw CommandFailure("unrecognized operand " + operand);
        if (key == "bs") {
            bs = parseNumberOption("bs", value, 1, INT_MAX);
        } else if (key == "count") {
            count = parseNumberOption("count", value, 0, kMax);
            haveCount = true;
        } else if (key == "skip") {
            skip = parseNumberOption("skip", value, 0, kMax);
            haveSkip = true;
        } else if (key == "if") {
            input = value;
            haveIf = true;
        } else if (key == "of") {
            output = value;
            haveOf = true;
        } else {
            throw CommandFailure("unrecognized operand " + key);
        }
    }
    if (!haveIf || !haveOf)
        throw CommandFailure("Must specify both input and output files");

    OpenRequest req;
    req.format = format;
    req.imageOpts = imageOpts;
    req.forceShare = forceShare;
    auto in = openForCommand(input, req);
    if (!isCreatableFormat(outFormat))
        throw CommandFailure("Unknown file format");

    uint64_t size = in->size();
    // As qemu-img: count limits the input size, skipped blocks included.
    if (haveCount && count <= kMax / bs && count * bs < size)
        size = count * bs;
    const bool skipPastEnd = haveSkip && (skip > kMax / bs || size < bs * skip);
    block::CreateOptions create;
    create.format = outFormat;
    create.size = skipPastEnd ? 0 : size - bs * skip;
    create.sizeGiven = true;
    try {
        block::createImage(output, create);
    } catch (const block::BlockError& e) {
        throw CommandFailure(output + ": error while creating output image: " + e.what());
    }
    OpenRequest outReq;
    outReq.format = outFormat;
    outReq.writable = true;
    outReq.openBacking = false;
    auto out = openForCommand(output, outReq);

    uint64_t inPos = bs * skip;
    if (skipPastEnd) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: %s: cannot skip to specified offset\n", kToolName, input.c_str());
        inPos = size;
    }
    // Whole blocks at a time, several per request (the result is the same as block by block).
    const uint64_t perRequest = std::max<uint64_t>(1, (4u << 20) / bs) * bs;
    std::vector<uint8_t> buf(size_t(std::min<uint64_t>(perRequest, std::max<uint64_t>(size, 1))));
    for (uint64_t outPos = 0; inPos < size;) {
        uint64_t n = std::min<uint64_t>(buf.size(), size - inPos);
        auto chunk = std::span(buf.data(), size_t(n));
        try {
            in->read(inPos, chunk);
        } catch (const block::BlockError& e) {
            throw CommandFailure(std::string("error while reading from input image file: ") +
                                 std::strerror(e.errnoValue()));
        }
        try {
            out->write(outPos, chunk);
        } catch (const block::BlockError& e) {
            throw CommandFailure(std::string("error while writing to output image file: ") +
                                 std::strerror(e.errnoValue()));
        }
        inPos += n;
        outPos += n;
    }
    out->flush();
    return 0;
}

} // namespace e2kvm::img

// e2kvm-img resize: grows or (with --shrink) shrinks an image's virtual size.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "block/ImageOpen.h"

#include <cstdio>

namespace e2kvm::img {

int runResize(int argc, char** argv) {
    enum { OptShrink = 256, OptPrealloc, OptImageOpts, OptObject };
    // A size like "-1G" looks like an option; qemu-img lets it through the same way: anything
    // after the file name is taken as the size.
    std::vector<char*> args(argv, argv + argc);
    std::string sizeText;
    if (argc >= 3 && argv[argc - 1][0] == '-' && argv[argc - 1][1] >= '0' &&
        argv[argc - 1][1] <= '9') {
        sizeText = argv[argc - 1];
        args.pop_back();
    }
    args.push_back(nullptr);
    // No -U: qemu-img resize has none (it writes the image).
    CommandOptions opts(int(args.size() - 1), args.data(), "f:q",
                        {{"shrink", no_argument, nullptr, OptShrink},
                         {"preallocation", required_argument, nullptr, OptPrealloc},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"object", required_argument, nullptr, OptObject}});
    std::string format;
    bool quiet = false, shrink = false, imageOpts = false;
    block::Preallocation prealloc = block::Preallocation::Off;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'q':
            quiet = true;
            break;
        case OptShrink:
            shrink = true;
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        case OptPrealloc: {
            const std::string mode = opts.arg();
            if (mode == "off")
                prealloc = block::Preallocation::Off;
            else if (mode == "metadata")
                prealloc = block::Preallocation::Metadata;
            else if (mode == "falloc")
                prealloc = block::Preallocation::Falloc;
            else if (mode == "full")
                prealloc = block::Preallocation::Full;
            else
                throw CommandFailure("Invalid preallocation mode '" + mode + "'");
            break;
        }
        default:
            break;
        }
    }
    std::vector<std::string> pos = opts.positional();
    if (!sizeText.empty())
        pos.push_back(sizeText);
    if (pos.size() != 2)
        throw UsageError("Expecting image file name and size");
    const std::string& filename = pos[0];
    std::string text = pos[1];
    int sign = 0;
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
        sign = text[0] == '+' ? 1 : -1;
        text.erase(0, 1);
    }
    uint64_t amount;
    try {
        amount = block::parseSize(text);
    } catch (const block::BlockError&) {
        throw CommandFailure("Invalid size specified. You may use k, M, G, T, P or E suffixes "
                             "for\n" +
                             std::string(kToolName) +
                             ": kilobytes, megabytes, gigabytes, terabytes, petabytes and "
                             "exabytes.");
    }

    OpenRequest req;
    req.format = format;
    req.writable = true;
    req.imageOpts = imageOpts;
    auto image = openForCommand(filename, req);
    uint64_t current = image->size();
    uint64_t target;
    if (sign > 0) {
        if (amount > (uint64_t(1) << 63) - current)
            throw CommandFailure("New image size is too large");
        target = current + amount;
    } else if (sign < 0) {
        if (amount >= current)
            throw CommandFailure("New image size must be positive");
        target = current - amount;
    } else {
        target = amount;
    }
    if (target == 0)
        throw CommandFailure("New image size must be positive");
    if (prealloc != block::Preallocation::Off && target <= current)
        throw CommandFailure("Preallocation can only be used for growing images");
    if (target < current && !shrink) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s: Use the --shrink option to perform a shrink operation.\n",
                     kToolName);
        std::fprintf(stderr,
                     "%s: warning: Shrinking an image will delete all data beyond the "
                     "shrunken image's end. Before performing such an operation, make "
                     "sure there is no important data there.\n",
                     kToolName);
        return 1;
    }
    if (target != current)
        image->truncate(target, prealloc);
    image->flush();
    if (!quiet)
        std::printf("Image resized.\n");
    return 0;
}

} // namespace e2kvm::img

// e2kvm-img map: how every range of an image (through its backing chain) is stored, in
// qemu-img's human or JSON layout.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "DirtyMapOutput.h"
#include "ImageOpening.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"

#include <cinttypes>
#include <cstdio>

namespace e2kvm::img {

namespace {

struct MapEntry {
    uint64_t start = 0, length = 0;
    int depth = 0;
    bool present = false, zero = false, data = false;
    bool hasOffset = false;
    uint64_t offset = 0;
    std::string filename; // of the layer holding `offset`; empty without one
};

bool mergeable(const MapEntry& a, const MapEntry& b) {
    if (a.length == 0)
        return false;
    if (a.zero != b.zero || a.data != b.data || a.depth != b.depth || a.present != b.present ||
        a.hasOffset != b.hasOffset || a.filename != b.filename)
        return false;
    return !a.hasOffset || a.offset + a.length == b.offset;
}

void printEntry(OutputFormat output, const MapEntry& e, bool more) {
    if (output == OutputFormat::Human) {
        if (e.data && !e.hasOffset)
            throw CommandFailure("File contains external, encrypted or compressed clusters.");
        if (e.data && !e.zero)
            std::printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e.start, e.length,
                        e.hasOffset ? e.offset : 0, e.filename.c_str());
        return;
    }
    std::printf("{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"depth\": %d,"
                " \"present\": %s, \"zero\": %s, \"data\": %s",
                e.start, e.length, e.depth, e.present ? "true" : "false", e.zero ? "true" : "false",
                e.data ? "true" : "false");
    if (e.hasOffset)
        std::printf(", \"offset\": %" PRIu64, e.offset);
    std::printf("}%s", more ? ",\n" : "");
}

uint64_t parseOffsetArgument(const std::string& text, const char* what) {
    try {
        return block::parseSize(text);
    } catch (const block::BlockError&) {
        throw CommandFailure(std::string("Invalid ") + what +
                             " specified. You may use k, M, G, "
                             "T, P or E suffixes for\n" +
                             kToolName +
                             ": kilobytes, megabytes, gigabytes, terabytes, "
                             "petabytes and exabytes.");
    }
}

} // namespace

int runMap(int argc, char** argv) {
    enum { OptOutput = 256, OptStart, OptMaxLength, OptBitmap, OptImageOpts };
    CommandOptions opts(argc, argv, "f:U",
                        {{"output", required_argument, nullptr, OptOutput},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"start-offset", required_argument, nullptr, OptStart},
                         {"max-length", required_argument, nullptr, OptMaxLength},
                         {"bitmap", required_argument, nullptr, OptBitmap},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format, bitmap;
    OutputFormat output = OutputFormat::Human;
    uint64_t start = 0, maxLength = UINT64_MAX;
    bool imageOpts = false;
    bool forceShare = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case OptImageOpts:
            imageOpts = true;
            break;
        case 'f':
            format = opts.arg();
            break;
        case OptOutput:
            output = parseOutputFormat(opts.arg());
            break;
        case OptStart:
            start = parseOffsetArgument(opts.arg(), "start offset");
            break;
        case OptMaxLength:
            maxLength = parseOffsetArgument(opts.arg(), "max length");
            break;
        case OptBitmap:
            bitmap = opts.arg();
            break;
        case 'U':
            forceShare = true;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");

    OpenRequest req;
    req.format = format;
    req.imageOpts = imageOpts;
    req.forceShare = forceShare;
    auto image = openForCommand(args[0], req);
    uint64_t size = image->size();
    uint64_t end = size;
    if (maxLength < size && start < size - maxLength)
        end = start + maxLength;
    if (!bitmap.empty())
        return printDirtyMap(*image, bitmap, output, start, end);

    if (output == OutputFormat::Human)
        std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    else
        std::printf("[");
    MapEntry curr;
    curr.start = start;
    for (uint64_t offset = start; offset < end;) {
        uint64_t n = std::min<uint64_t>(uint64_t(1) << 30, end - offset);
        block::ChainExtent e = block::chainStatus(*image, offset, n);
        MapEntry next;
        next.start = offset;
        next.length = e.length;
        next.depth = e.depth;
        next.present = e.present;
        next.zero = e.zero;
        next.data = e.data;
        if (e.hostOffset) {
            next.hasOffset = true;
            next.offset = *e.hostOffset;
            next.filename = e.layer ? e.layer->dataFilename() : image->dataFilename();
        }
        offset += e.length;
        if (mergeable(curr, next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length > 0)
            printEntry(output, curr, true);
        curr = next;
    }
    // The last entry is printed even when the range is empty (length 0), as qemu-img does.
    printEntry(output, curr, false);
    if (output == OutputFormat::Json)
        std::printf("]\n");
    return 0;
}

} // namespace e2kvm::img

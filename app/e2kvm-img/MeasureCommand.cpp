// e2kvm-img measure: how large a new qcow2 or raw image of a given size, or converted from an
// image, would be (required and fully allocated size, and the bitmaps' share), as
// `qemu-img measure`.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "CreateOptionList.h"
#include "ImageOpening.h"
#include "QemuImgJson.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"

#include <cstdio>
#include <cstdlib>

namespace e2kvm::img {

namespace {

uint64_t roundUp(uint64_t v, uint64_t to) {
    return (v + to - 1) / to * to;
}

uint64_t divRoundUp(uint64_t v, uint64_t by) {
    return (v + by - 1) / by;
}

// Bytes of refcount table and blocks that count `clusters` clusters plus themselves: the
// fixed point where no further block or table cluster is needed.
uint64_t refcountMetadataSize(uint64_t clusters, uint64_t clusterSize, uint32_t refcountBits) {
    const uint64_t blocksPerTableCluster = clusterSize / 8;
    const uint64_t refcountsPerBlock = clusterSize * 8 / refcountBits;
    uint64_t table = 0, blocks = 0, n = 0, last;
    do {
        last = n;
        blocks = divRoundUp(clusters + table + blocks, refcountsPerBlock);
        table = divRoundUp(blocks, blocksPerTableCluster);
        n = clusters + blocks + table;
    } while (n != last);
    return (blocks + table) * clusterSize;
}

// A fully preallocated qcow2 image of `size` bytes: header, L2 tables, L1 table, refcounts,
// data.
uint64_t preallocatedQcow2Size(uint64_t size, uint64_t clusterSize, uint32_t refcountBits,
                               bool extendedL2) {
    const uint64_t l2eSize = extendedL2 ? 16 : 8;
    uint64_t meta = clusterSize;
    uint64_t alignedSize = roundUp(size, clusterSize);
    uint64_t l2Entries = roundUp(alignedSize / clusterSize, clusterSize / l2eSize);
    meta += l2Entries * l2eSize;
    uint64_t l1Entries = roundUp(l2Entries * l2eSize / clusterSize, clusterSize / 8);
    meta += l1Entries * 8;
    meta += refcountMetadataSize((meta + alignedSize) / clusterSize, clusterSize, refcountBits);
    return meta + alignedSize;
}

// Bytes of stored data in `image` (whole clusters of `clusterSize` around every data range
// that does not read as zero), as QEMU counts them.
uint64_t requiredData(block::BlockDriver& image, uint64_t clusterSize) {
    const uint64_t size = image.size();
    uint64_t required = 0;
    for (uint64_t off = 0; off < size;) {
        block::ChainExtent e = block::chainStatus(image, off, size - off);
        uint64_t n = std::min(e.length, size - off);
        if (!e.zero && e.data && e.present) {
            n = roundUp(off + n, clusterSize) - off;
            required += off % clusterSize + n;
        }
        off += n;
    }
    return required;
}

// The persistent bitmaps of `image` copied into a qcow2 image with `clusterSize` clusters:
// their data and tables (whole clusters each) and the directory.
uint64_t bitmapsSize(block::BlockDriver& image, uint64_t clusterSize) {
    block::ImageDescription d;
    image.describe(d);
    uint64_t total = 0, directory = 0;
    if (d.qcow2) {
        for (const block::BitmapDescription& b : d.qcow2->bitmaps) {
            uint64_t bytes = divRoundUp(divRoundUp(image.size(), b.granularity), 8);
            uint64_t clusters = divRoundUp(bytes, clusterSize);
            total += clusters * clusterSize + roundUp(clusters * 8, clusterSize);
            directory += roundUp(24 + b.name.size(), 8);
        }
    }
    return total + roundUp(directory, clusterSize);
}

struct Measurement {
    uint64_t required = 0;
    uint64_t fullyAllocated = 0;
    std::optional<uint64_t> bitmaps;
};

Measurement measureQcow2(const CreateOptionList& options, block::BlockDriver* source,
                         uint64_t size) {
    block::CreateOptions o = options.toCreateOptions();
    const uint64_t cs = o.clusterSize;
    if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
        throw CommandFailure("Cluster size must be a power of two between 512 and 2048k");
    if (o.extendedL2 && cs < 16384)
        throw CommandFailure("Extended L2 entries are only supported with cluster sizes of at "
                             "least 16384 bytes");
    const bool v3 = o.compat != "0.10";
    uint32_t bits = o.refcountBits;
    if (bits == 0 || bits > 64 || (bits & (bits - 1)))
        throw CommandFailure("Refcount width must be a power of two and may not exceed 64 bits");
    if (!v3 && bits != 16)
        throw CommandFailure("Different refcount widths than 16 bits require compatibility "
                             "level 1.1 or above (use compat=1.1 or greater)");
    uint64_t virtualSize = roundUp(size, cs);
    uint64_t l2Tables = divRoundUp(virtualSize / cs, cs / (o.extendedL2 ? 16 : 8));
    if (l2Tables * 8 > (32ull << 20))
        throw CommandFailure("The image size is too large (try using a larger cluster size)");
    uint64_t required = 0;
    if (source) {
        virtualSize = roundUp(source->size(), cs);
        required = options.has("backing_file") ? virtualSize : requiredData(*source, cs);
    }
    if (o.preallocation == block::Preallocation::Full ||
        o.preallocation == block::Preallocation::Falloc)
        required = virtualSize;
    Measurement m;
    m.fullyAllocated = preallocatedQcow2Size(virtualSize, cs, bits, o.extendedL2);
    m.required = m.fullyAllocated - virtualSize + required;
    if (v3 && source && source->formatName() == "qcow2") {
        block::ImageDescription d;
        source->describe(d);
        if (d.qcow2 && d.qcow2->compat != "0.10")
            m.bitmaps = bitmapsSize(*source, cs);
    }
    return m;
}

} // namespace

int runMeasure(int argc, char** argv) {
    enum { OptImageOpts = 256, OptObject, OptOutput, OptSize };
    CommandOptions opts(argc, argv, "f:O:o:l:U",
                        {{"image-opts", no_argument, nullptr, OptImageOpts},
                         {"object", required_argument, nullptr, OptObject},
                         {"output", required_argument, nullptr, OptOutput},
                         {"size", required_argument, nullptr, OptSize},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format, outFormat = "raw", snapshot;
    std::vector<std::string> optionTexts;
    bool forceShare = false, imageOpts = false, haveSize = false;
    OutputFormat output = OutputFormat::Human;
    uint64_t size = 0;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'O':
            outFormat = opts.arg();
            break;
        case 'o':
            optionTexts.push_back(opts.arg());
            break;
        case 'l':
            snapshot = opts.arg();
            break;
        case 'U':
            forceShare = true;
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        case OptOutput:
            output = parseOutputFormat(opts.arg());
            break;
        case OptSize:
            try {
                size = block::parseSize(opts.arg());
            } catch (const block::BlockError&) {
                throw CommandFailure("Invalid image size specified. You may use k, M, G, T, P "
                                     "or E suffixes for\n" +
                                     std::string(kToolName) +
                                     ": kilobytes, megabytes, gigabytes, terabytes, petabytes "
                                     "and exabytes.");
            }
            haveSize = true;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() > 1)
        throw CommandFailure("At most one filename argument is allowed.");
    const bool haveFile = args.size() == 1;
    if (!haveFile && (imageOpts || !format.empty() || !snapshot.empty()))
        throw CommandFailure("--image-opts, -f, and -l require a filename argument.");
    if (haveFile && haveSize)
        throw CommandFailure("--size N cannot be used together with a filename.");
    if (!haveFile && !haveSize)
        throw CommandFailure("Either --size N or one filename must be specified.");

    std::unique_ptr<block::BlockDriver> source;
    if (haveFile) {
        OpenRequest req;
        req.format = format;
        req.imageOpts = imageOpts;
        req.forceShare = forceShare;
        source = openForCommand(args[0], req);
        if (!snapshot.empty())
            throw CommandFailure("Failed to load snapshot: measuring a snapshot (-l) is not "
                                 "supported");
    }
    if (!isCreatableFormat(outFormat))
        throw CommandFailure("Unknown file format '" + outFormat + "'");
    CreateOptionList options(outFormat);
    try {
        for (const std::string& text : optionTexts)
            options.parse(text, "");
        options.checkValues("");
    } catch (const CommandFailure& e) {
        std::string message = e.what();
        if (message.rfind(": ", 0) == 0)
            message.erase(0, 2);
        throw CommandFailure(message + "\n" + kToolName + ": Invalid options for file format '" +
                             outFormat + "'");
    }
    if (haveSize)
        options.set("size", std::to_string(size));

    Measurement m;
    if (outFormat == "qcow2") {
        uint64_t given = options.has("size") ? std::stoull(options.get("size")) : 0;
        m = measureQcow2(options, source.get(), given);
    } else {
        m.required = source
                         ? source->size()
                         : roundUp(options.has("size") ? std::stoull(options.get("size")) : 0, 512);
        m.fullyAllocated = m.required;
    }
    if (output == OutputFormat::Json) {
        json::Json j = json::Json::object();
        j.set("required", m.required);
        j.set("fully-allocated", m.fullyAllocated);
        if (m.bitmaps)
            j.set("bitmaps", *m.bitmaps);
        std::printf("%s\n", prettyJson(j).c_str());
    } else {
        std::printf("required size: %llu\n", (unsigned long long)m.required);
        std::printf("fully allocated size: %llu\n", (unsigned long long)m.fullyAllocated);
        if (m.bitmaps)
            std::printf("bitmaps size: %llu\n", (unsigned long long)*m.bitmaps);
    }
    return 0;
}

} // namespace e2kvm::img

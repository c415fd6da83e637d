// e2kvm-img commit: copies what an image (and the images between it and the base) stores into
// its backing file, or into `-b BASE` further down the chain, then empties the image unless
// -d, as `qemu-img commit`.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "ProgressBar.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"
#include "block/blkdebug/BlkdebugConfig.h"
#include "block/qcow2/Qcow2Image.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace e2kvm::img {

namespace {

constexpr uint64_t kChunk = 1 << 20;

struct Layer {
    std::string path;
    std::string format;
};

std::string canonical(const std::string& path) {
    char buf[PATH_MAX];
    return ::realpath(path.c_str(), buf) ? std::string(buf) : std::string();
}

// The images of the chain from `top` down, as their headers name them (opened one by one,
// without locks, for their metadata only).
std::vector<Layer> readChain(const std::string& top, const std::string& format,
                             std::vector<std::string>* storedNames) {
    std::vector<Layer> chain;
    Layer cur{top, format.empty() ? block::probeFormat(top) : format};
    for (int depth = 0; depth < 64; ++depth) {
        block::OpenOptions o;
        o.format = cur.format;
        o.openBacking = false;
        o.openDataFile = false;
        o.locking = false;
        o.metadataOnly = true;
        auto image = block::openImage(cur.path, o);
        block::ImageDescription d;
        image->describe(d);
        chain.push_back(cur);
        if (d.fullBackingFilename.empty())
            break;
        storedNames->push_back(d.backingFilename);
        cur.path = d.fullBackingFilename;
        cur.format = d.backingFormat.empty() ? block::probeFormat(cur.path) : d.backingFormat;
    }
    return chain;
}

// Index in `chain` of the image named `base` below the top, as QEMU's backing-image lookup:
// the name resolved like a backing file name of each image, compared by real path.
int findBase(const std::vector<Layer>& chain, const std::vector<std::string>& storedNames,
             const std::string& base) {
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
        if (storedNames[i] == base)
            return int(i + 1);
        std::string wanted = canonical(block::resolveBackingPath(chain[i].path, base));
        if (!wanted.empty() && wanted == canonical(chain[i + 1].path))
            return int(i + 1);
    }
    return -1;
}

// How many bytes from `off` (at most `len`) are stored in one of `layers` (allocated above the
// base), and whether they are.
std::pair<bool, uint64_t> allocatedAbove(const std::vector<block::BlockDriver*>& layers,
                                         uint64_t off, uint64_t len) {
    for (block::BlockDriver* layer : layers) {
        if (off >= layer->size())
            continue;
        block::LayerExtent e = layer->layerStatus(off, std::min(len, layer->size() - off));
        if (e.kind != block::Allocation::Unallocated)
            return {true, e.length};
        len = std::min(len, e.length);
    }
    return {false, len};
}

void checkCacheMode(const std::string& mode) {
    for (const char* valid : {"none", "off", "writeback", "writethrough", "directsync", "unsafe"})
        if (mode == valid)
            return;
    throw CommandFailure("Invalid cache option: " + mode);
}

// Copies what the images above the base hold (whole granules, as QEMU's dirty bitmap copies
// them) from `top` down into `base`, then flushes both.
void copyDown(block::BlockDriver& top, block::BlockDriver& base,
              const std::vector<block::BlockDriver*>& above, ProgressBar& progress) {
    const uint64_t size = top.size();
    if (base.size() < size)
        base.truncate(size);
    uint64_t granularity = std::max<uint64_t>(4096, base.clusterSize());
    if (!base.clusterSize())
        granularity = 65536;
    std::vector<uint8_t> buf(kChunk + granularity);
    uint64_t lastPercent = 0;
    for (uint64_t off = 0; off < size;) {
        auto [allocated, n] = allocatedAbove(above, off, std::min(kChunk, size - off));
        if (allocated) {
            // Whole granules, as QEMU's dirty bitmap copies them.
            uint64_t from = off - off % granularity;
            uint64_t to = std::min(size, (off + n + granularity - 1) / granularity * granularity);
            for (uint64_t pos = from; pos < to;) {
                block::ChainExtent e = block::chainStatus(top, pos, to - pos);
                uint64_t len = std::min(e.length, to - pos);
                if (e.zero && !e.data) {
                    base.writeZeroes(pos, len, block::ZeroMayUnmap);
                } else {
                    for (uint64_t p = pos; p < pos + len;) {
                        uint64_t m = std::min<uint64_t>(kChunk, pos + len - p);
                        top.read(p, std::span(buf.data(), size_t(m)));
                        base.write(p, std::span(buf.data(), size_t(m)));
                        p += m;
                    }
                }
                pos += len;
            }
            n = to - off;
        }
        off += n;
        uint64_t percent = off * 100 / size;
        if (percent > lastPercent) {
            progress.advance(percent - lastPercent);
            lastPercent = percent;
        }
    }
    base.flush();
    top.flush();
}

} // namespace

int runCommit(int argc, char** argv) {
    enum { OptObject = 256, OptImageOpts };
    CommandOptions opts(argc, argv, "f:t:b:dpqr:",
                        {{"object", required_argument, nullptr, OptObject},
                         {"image-opts", no_argument, nullptr, OptImageOpts}});
    std::string format, cache = "writeback", base;
    bool haveBase = false, drop = false, progressWanted = false, quiet = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 't':
            cache = opts.arg();
            break;
        case 'b':
            base = opts.arg();
            haveBase = true;
            drop = true; // -b implies -d
            break;
        case 'd':
            drop = true;
            break;
        case 'p':
            progressWanted = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'r':
            try {
                block::parseSize(opts.arg());
            } catch (const block::BlockError&) {
                throw CommandFailure("Invalid rate limit specified. You may use k, M, G, T, P "
                                     "or E suffixes for\n" +
                                     std::string(kToolName) +
                                     ": kilobytes, megabytes, gigabytes, terabytes, petabytes "
                                     "and exabytes.");
            }
            break;
        case OptImageOpts:
            throw UsageError("--image-opts is not supported by commit");
        case OptObject:
            throw UsageError("--object is not supported");
        default:
            break;
        }
    }
    if (quiet)
        progressWanted = false;
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");
    const std::string& filename = args[0];
    checkCacheMode(cache);
    // "blkdebug:CONFIG:IMAGE": the top image with an error injector under its format, for
    // the commit and the emptying after it (as QEMU keeps one node for both).
    std::string topPath = filename;
    std::shared_ptr<block::Blkdebug> injector;
    if (auto name = block::parseBlkdebugName(filename)) {
        topPath = name->image;
        injector = block::makeBlkdebug(name->configFile, {});
        injector->event(block::BlkdebugEvent::None);
    }

    // Opened as qemu-img opens it first (writable, whole chain), for its errors and locks.
    {
        OpenRequest req;
        req.format = format;
        req.writable = true;
        openForCommand(filename, req);
    }
    std::vector<std::string> storedNames;
    std::vector<Layer> chain = readChain(topPath, format, &storedNames);
    ProgressBar progress(progressWanted, 100);
    int baseIndex = 1;
    if (haveBase) {
        baseIndex = findBase(chain, storedNames, base);
        if (baseIndex < 0)
            throw CommandFailure("Did not find '" + base + "' in the backing chain of '" +
                                 filename + "'");
    } else if (chain.size() < 2) {
        throw CommandFailure("Image does not have a backing file");
    }

    {
        // The base writable with the chain under it; the images above it read-only on top of
        // it, and the top writable (emptied afterwards): one chain whose base can be written.
        block::OpenOptions bo;
        bo.format = chain[size_t(baseIndex)].format;
        bo.readOnly = false;
        std::shared_ptr<block::BlockDriver> below =
            block::openImage(chain[size_t(baseIndex)].path, bo);
        block::BlockDriver* baseImage = below.get();
        std::vector<std::shared_ptr<block::BlockDriver>> keep{below};
        for (int i = baseIndex - 1; i >= 0; --i) {
            block::OpenOptions o;
            o.format = chain[size_t(i)].format;
            o.readOnly = i > 0;
            o.backingNode = below;
            if (i == 0)
                o.blkdebug = injector;
            below = block::openImage(chain[size_t(i)].path, o);
            keep.push_back(below);
        }
        block::BlockDriver& top = *below;
        std::vector<block::BlockDriver*> above;
        for (int i = int(keep.size()) - 1; i >= 1; --i)
            above.push_back(keep[size_t(i)].get());

        // As qemu-img: a failure while the commit job runs is reported by its errno alone.
        try {
            copyDown(top, *baseImage, above, progress);
        } catch (const block::BlockError& e) {
            throw CommandFailure(std::string("Block job failed: ") + std::strerror(e.errnoValue()));
        }
    }
    if (!drop && chain[0].format == "qcow2") {
        try {
            block::Qcow2Image::makeEmpty(topPath, injector);
        } catch (const block::BlockError& e) {
            throw CommandFailure("Failed to empty " + filename + ": " +
                                 std::strerror(e.errnoValue()));
        }
    }
    progress.finish();
    if (!quiet)
        std::printf("Image committed.\n");
    return 0;
}

} // namespace e2kvm::img

// e2kvm-img rebase: points a qcow2 image at a different backing file. Safe mode first copies
// into the image every range whose contents would change with the new backing file.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "ProgressBar.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"
#include "block/qcow2/Qcow2Image.h"

#include <cstdio>
#include <cstring>
#include <vector>

namespace e2kvm::img {

namespace {

constexpr uint64_t kIoSize = 2 << 20;
constexpr uint64_t kSector = 512;

// Reads [off, off+len) of `image` (zeros past its end, or everywhere for no image).
void readOrZero(block::BlockDriver* image, uint64_t off, std::span<uint8_t> buf) {
    uint64_t have = 0;
    if (image && off < image->size())
        have = std::min<uint64_t>(buf.size(), image->size() - off);
    if (have)
        image->read(off, buf.first(size_t(have)));
    std::memset(buf.data() + have, 0, buf.size() - size_t(have));
}

bool readsZero(block::BlockDriver* image, uint64_t off, uint64_t len) {
    if (!image || off >= image->size())
        return true;
    block::ChainExtent e = block::chainStatus(*image, off, len);
    return e.length >= len && e.zero && !e.data;
}

// Copies into `image` the sectors of [off, off+len) where the old and new backing differ.
void preserveRange(block::BlockDriver& image, block::BlockDriver* oldBacking,
                   block::BlockDriver* newBacking, uint64_t off, uint64_t len,
                   std::vector<uint8_t>& oldBuf, std::vector<uint8_t>& newBuf) {
    // Past the end of the old backing file (everywhere without one) the image showed zeros:
    // like qemu-img, those are written as zeros, not as data.
    const uint64_t oldSize = oldBacking ? oldBacking->size() : 0;
    if (off < oldSize && off + len > oldSize) {
        preserveRange(image, oldBacking, newBacking, off, oldSize - off, oldBuf, newBuf);
        preserveRange(image, oldBacking, newBacking, oldSize, off + len - oldSize, oldBuf,
                      newBuf);
        return;
    }
    const bool zeros = off >= oldSize;
    if (readsZero(oldBacking, off, len) && readsZero(newBacking, off, len))
        return;
    auto oldData = std::span(oldBuf.data(), size_t(len));
    readOrZero(oldBacking, off, oldData);
    readOrZero(newBacking, off, std::span(newBuf.data(), size_t(len)));
    uint64_t runStart = 0;
    bool inRun = false;
    for (uint64_t s = 0; s <= len; s += kSector) {
        bool differs = false;
        if (s < len) {
            size_t n = size_t(std::min(kSector, len - s));
            differs = std::memcmp(oldBuf.data() + s, newBuf.data() + s, n) != 0;
        }
        if (differs && !inRun) {
            runStart = s;
            inRun = true;
        } else if (!differs && inRun) {
            uint64_t end = std::min(s, len);
            if (zeros)
                image.writeZeroes(off + runStart, end - runStart);
            else
                image.write(off + runStart,
                            oldData.subspan(size_t(runStart), size_t(end - runStart)));
            inRun = false;
        }
    }
}

} // namespace

int runRebase(int argc, char** argv) {
    CommandOptions opts(argc, argv, "f:F:b:t:T:puqU", {{"force-share", no_argument, nullptr, 'U'}});
    std::string format, backingName, backingFormat;
    bool unsafe = false, progressWanted = false, haveBacking = false, forceShare = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'F':
            backingFormat = opts.arg();
            break;
        case 'b':
            backingName = opts.arg(), haveBacking = true;
            break;
        case 'u':
            unsafe = true;
            break;
        case 'U': // as qemu-img: the new backing file may be in use
            forceShare = true;
            break;
        case 'p':
            progressWanted = true;
            break;
        case 'q':
            progressWanted = false;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");
    if (!haveBacking)
        throw UsageError("Must specify backing file (-b)");
    const std::string& filename = args[0];
    if (!backingName.empty() && backingFormat.empty())
        throw CommandFailure("Could not change the backing file to '" + backingName +
                             "': backing format must be specified");

    OpenRequest req;
    req.format = format;
    req.writable = true;
    req.openBacking = !unsafe;
    {
        auto image = openForCommand(filename, req);
        if (image->formatName() != "qcow2")
            throw CommandFailure("Could not change the backing file to '" + backingName +
                                 "': Operation not supported");
        if (!unsafe) {
            std::unique_ptr<block::BlockDriver> newBacking;
            if (!backingName.empty()) {
                try {
                    OpenRequest nreq;
                    nreq.format = backingFormat;
                    nreq.forceShare = forceShare;
                    newBacking =
                        openForCommand(block::resolveBackingPath(filename, backingName), nreq);
                } catch (const block::BlockError& e) {
                    throw CommandFailure("Could not open new backing file '" + backingName +
                                         "': " + e.what());
                }
            }
            block::BlockDriver* oldBacking = image->backing();
            uint64_t size = image->size();
            ProgressBar progress(progressWanted, size);
            std::vector<uint8_t> oldBuf(kIoSize), newBuf(kIoSize);
            for (uint64_t off = 0; off < size;) {
                uint64_t n = std::min(kIoSize, size - off);
                block::LayerExtent e = image->layerStatus(off, n);
                if (e.kind == block::Allocation::Unallocated)
                    preserveRange(*image, oldBacking, newBacking.get(), off, e.length, oldBuf,
                                  newBuf);
                off += e.length;
                progress.advance(e.length);
            }
            image->flush();
            progress.finish();
        }
    } // the image is closed before its header is rewritten
    block::Qcow2Image::setBackingLink(filename, backingName, backingFormat);
    return 0;
}

} // namespace e2kvm::img

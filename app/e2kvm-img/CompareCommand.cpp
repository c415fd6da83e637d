// e2kvm-img compare: whether two images (through their backing chains) have the same
// contents; exit 0 identical, 1 different, 2 error.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "ProgressBar.h"
#include "block/ChainStatus.h"
#include "block/ImageCopy.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

namespace e2kvm::img {

namespace {

constexpr uint64_t kIoSize = 2 << 20;
constexpr uint64_t kSector = 512;

// Offset of the first 512-byte block (counted from the buffers' start) that differs, or
// `length` if the buffers are equal.
uint64_t firstDifference(const uint8_t* a, const uint8_t* b, uint64_t length) {
    for (uint64_t off = 0; off < length; off += kSector) {
        size_t n = size_t(std::min(kSector, length - off));
        if (std::memcmp(a + off, b + off, n) != 0)
            return off;
    }
    return length;
}

uint64_t firstNonZero(const uint8_t* a, uint64_t length) {
    for (uint64_t off = 0; off < length; off += kSector) {
        size_t n = size_t(std::min(kSector, length - off));
        if (!block::isAllZero(a + off, n))
            return off;
    }
    return length;
}

class ImageComparison {
public:
    ImageComparison(block::BlockDriver& a, block::BlockDriver& b, bool strict, bool quiet,
                    ProgressBar& progress)
        : a_(a), b_(b), strict_(strict), quiet_(quiet), progress_(progress), bufA_(kIoSize),
          bufB_(kIoSize) {}

    // Returns the exit code.
    int run() {
        try {
            return compare();
        } catch (const ReadFailed&) {
            return 4;
        }
    }

private:
    int compare() {
        uint64_t sizeA = a_.size(), sizeB = b_.size();
        uint64_t common = std::min(sizeA, sizeB);
        if (strict_ && sizeA != sizeB) {
            say("Strict mode: Image size mismatch!\n");
            return 1;
        }
        for (uint64_t off = 0; off < common;) {
            block::ChainExtent ea = block::chainStatus(a_, off, common - off);
            block::ChainExtent eb = block::chainStatus(b_, off, common - off);
            if (strict_ && ea.present != eb.present) {
                say("Strict mode: Offset " + std::to_string(off) + " block status mismatch!\n");
                return 1;
            }
            uint64_t chunk = std::min(ea.length, eb.length);
            if (!(ea.zero && !ea.data && eb.zero && !eb.data)) {
                chunk = std::min(chunk, kIoSize);
                readOrFail(a_, off, std::span(bufA_.data(), size_t(chunk)));
                readOrFail(b_, off, std::span(bufB_.data(), size_t(chunk)));
                uint64_t diff = firstDifference(bufA_.data(), bufB_.data(), chunk);
                if (diff < chunk) {
                    say("Content mismatch at offset " + std::to_string(off + diff) + "!\n");
                    return 1;
                }
            }
            off += chunk;
            progress_.advance(chunk);
        }
        if (sizeA != sizeB) {
            say("Warning: Image size mismatch!\n");
            block::BlockDriver& larger = sizeA > sizeB ? a_ : b_;
            uint64_t end = std::max(sizeA, sizeB);
            for (uint64_t off = common; off < end;) {
                block::ChainExtent e = block::chainStatus(larger, off, end - off);
                uint64_t chunk = e.length;
                if (!(e.zero && !e.data)) {
                    chunk = std::min(chunk, kIoSize);
                    readOrFail(larger, off, std::span(bufA_.data(), size_t(chunk)));
                    uint64_t nz = firstNonZero(bufA_.data(), chunk);
                    if (nz < chunk) {
                        say("Content mismatch at offset " + std::to_string(off + nz) + "!\n");
                        return 1;
                    }
                }
                off += chunk;
                progress_.advance(chunk);
            }
        }
        say("Images are identical.\n");
        return 0;
    }

    // A failed read ends the comparison as QEMU's: the offset and image named at once on
    // standard error (what was said on standard output follows when it is flushed), exit 4.
    struct ReadFailed {};
    static void readOrFail(block::BlockDriver& image, uint64_t off, std::span<uint8_t> buf) {
        try {
            image.read(off, buf);
        } catch (const block::BlockError& e) {
            std::fprintf(stderr, "%s: Error while reading offset %" PRIu64 " of %s: %s\n",
                         kToolName, off, image.filename().c_str(), std::strerror(e.errnoValue()));
            throw ReadFailed{};
        }
    }

    void say(const std::string& text) {
        progress_.finish();
        if (!quiet_)
            std::fputs(text.c_str(), stdout);
    }

    block::BlockDriver& a_;
    block::BlockDriver& b_;
    bool strict_, quiet_;
    ProgressBar& progress_;
    std::vector<uint8_t> bufA_, bufB_;
};

} // namespace

int runCompare(int argc, char** argv) {
    enum { OptImageOpts = 256 };
    CommandOptions opts(argc, argv, "f:F:T:pqsU",
                        {{"force-share", no_argument, nullptr, 'U'},
                         {"image-opts", no_argument, nullptr, OptImageOpts}});
    std::string formatA, formatB;
    bool strict = false, quiet = false, progressWanted = false, imageOpts = false,
         forceShare = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case OptImageOpts:
            imageOpts = true;
            break;
        case 'f':
            formatA = opts.arg();
            break;
        case 'F':
            formatB = opts.arg();
            break;
        case 'p':
            progressWanted = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            strict = true;
            break;
        case 'U':
            forceShare = true;
            break;
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 2)
        throw UsageError("Expecting two image file names");
    OpenRequest reqA, reqB;
    reqA.format = formatA;
    reqB.format = formatB;
    reqA.imageOpts = reqB.imageOpts = imageOpts;
    reqA.forceShare = reqB.forceShare = forceShare;
    std::unique_ptr<block::BlockDriver> a, b;
    try {
        a = openForCommand(args[0], reqA);
        b = openForCommand(args[1], reqB);
    } catch (const block::BlockError& e) {
        throw CommandFailure(e.what(), 2);
    }
    ProgressBar progress(progressWanted && !quiet, std::max(a->size(), b->size()));
    int rc = ImageComparison(*a, *b, strict, quiet, progress).run();
    progress.finish();
    return rc;
}

} // namespace e2kvm::img

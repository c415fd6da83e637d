// e2kvm-img bench: times a run of read (or, with -w, write) requests of one size on an image,
// as `qemu-img bench`: -c requests of -s bytes from offset -o, each -S bytes past the last
// (wrapping at the end of the image), with a flush every --flush-interval write requests.
// Requests are issued one after the other; -d only sets how many buffers they cycle through.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "block/BlockError.h"

#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace e2kvm::img {

namespace {

// An unsigned number in C notation (decimal, 0x hex, 0 octal) up to `max`, else `error`.
unsigned long parseCount(const std::string& text, unsigned long max, const char* error) {
    const char* s = text.c_str();
    while (*s == ' ' || *s == '\t')
        ++s;
    char* end = nullptr;
    errno = 0;
    unsigned long long value = std::strtoull(s, &end, 0);
    if (*s == '-' || end == s || *end != '\0' || errno == ERANGE || value > max)
        throw CommandFailure(error);
    return static_cast<unsigned long>(value);
}

// Whether the cache mode bypasses the host's page cache (cache.direct); throws for bad modes.
bool directCacheMode(const std::string& mode) {
    for (const char* valid : {"writeback", "writethrough", "unsafe"})
        if (mode == valid)
            return false;
    for (const char* valid : {"none", "off", "directsync"})
        if (mode == valid)
            return true;
    throw CommandFailure("Invalid cache mode");
}

// Whether the AIO mode is Linux native AIO; throws for bad modes.
bool nativeAioMode(const std::string& mode) {
    for (const char* valid : {"threads", "io_uring"})
        if (mode == valid)
            return false;
    if (mode == "native")
        return true;
    throw CommandFailure("Invalid aio option: " + mode);
}

} // namespace

int runBench(int argc, char** argv) {
    enum { OptFlushInterval = 256, OptImageOpts, OptPattern, OptNoDrain, OptObject };
    CommandOptions opts(argc, argv, "c:d:f:ni:o:qs:S:t:wU",
                        {{"flush-interval", required_argument, nullptr, OptFlushInterval},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"pattern", required_argument, nullptr, OptPattern},
                         {"no-drain", no_argument, nullptr, OptNoDrain},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format;
    bool quiet = false, imageOpts = false, write = false, forceShare = false;
    bool nativeAio = false, directCache = false;
    unsigned long count = 75000, depth = 64, flushInterval = 0;
    uint64_t offset = 0, bufSize = 4096, step = 0;
    uint8_t pattern = 0;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'c':
            count = parseCount(opts.arg(), INT_MAX, "Invalid request count specified");
            break;
        case 'd':
            depth = parseCount(opts.arg(), INT_MAX, "Invalid queue depth specified");
            break;
        case 'f':
            format = opts.arg();
            break;
        case 'n':
            nativeAio = true; // our requests are synchronous either way
            break;
        case 'i':
            nativeAio = nativeAioMode(opts.arg());
            break;
        case 'o':
            offset = parseNumberOption("offset", opts.arg(), 0, INT64_MAX);
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            bufSize = parseNumberOption("buffer size", opts.arg(), 0, INT_MAX);
            break;
        case 'S':
            step = parseNumberOption("step_size", opts.arg(), 0, INT_MAX);
            break;
        case 't':
            directCache = directCacheMode(opts.arg());
            break;
        case 'w':
            write = true;
            break;
        case 'U':
            forceShare = true;
            break;
        case OptPattern:
            pattern = uint8_t(parseCount(opts.arg(), 0xff, "Invalid pattern byte specified"));
            break;
        case OptFlushInterval:
            flushInterval = parseCount(opts.arg(), INT_MAX, "Invalid flush interval specified");
            break;
        case OptNoDrain:
            break; // without a queue, a flush never waits for other requests anyway
        case OptImageOpts:
            imageOpts = true;
            break;
        default:
            break;
        }
    }
    (void)quiet; // as qemu-img: -q changes nothing in bench's output
    std::vector<std::string> pos = opts.positional();
    if (pos.size() != 1)
        throw UsageError("Expecting one image file name");
    if (!write && flushInterval)
        throw CommandFailure("--flush-interval is only available in write tests");
    if (flushInterval && flushInterval < depth)
        throw CommandFailure("Flush interval can't be smaller than depth");

    // As QEMU's file driver: native AIO only goes with the host cache bypassed.
    if (nativeAio && !directCache)
        throw block::BlockError(EINVAL, "Could not open '" + pos[0] +
                                            "': aio=native was specified, but it requires "
                                            "cache.direct=on, which was not specified.");
    OpenRequest req;
    req.format = format;
    req.writable = write;
    req.forceShare = forceShare;
    req.imageOpts = imageOpts;
    auto image = openForCommand(pos[0], req);
    const uint64_t size = image->size();
    if (!step)
        step = bufSize;

    std::printf("Sending %lu %s requests, %" PRIu64 " bytes each, %lu in parallel (starting at "
                "offset %" PRIu64 ", step size %" PRIu64 ")\n",
                count, write ? "write" : "read", bufSize, depth, offset, step);
    if (flushInterval)
        std::printf("Sending flush every %lu requests\n", flushInterval);
    std::fflush(stdout);

    // One buffer per request of the queue, all filled with the pattern, used in turn.
    const uint64_t buffers = std::max<unsigned long>(depth, 1);
    std::vector<uint8_t> buf(buffers * bufSize, pattern);
    const auto start = std::chrono::steady_clock::now();
    uint64_t next = offset;
    for (unsigned long done = 0; done < count; ++done) {
        const uint64_t at = next;
        next = size ? (next + step) % size : 0;
        std::span<uint8_t> chunk(buf.data() + (done % buffers) * bufSize, bufSize);
        try {
            // A request that does not fit in the image fails, as QEMU's block layer refuses it.
            if (at > size || size - at < bufSize)
                throw block::BlockError(EIO, "request past the end of the image");
            if (write)
                image->write(at, chunk);
            else
                image->read(at, chunk);
        } catch (const block::BlockError& e) {
            throw CommandFailure(std::string("Failed request: ") + std::strerror(e.errnoValue()));
        }
        if (flushInterval && (count - done - 1) % flushInterval == 0) {
            try {
                image->flush();
            } catch (const block::BlockError& e) {
                throw CommandFailure(std::string("Failed flush request: ") +
                                     std::strerror(e.errnoValue()));
            }
        }
    }
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("Run completed in %3.3f seconds.\n", elapsed.count());
    return 0;
}

} // namespace e2kvm::img

// libFuzzer target: the input bytes are an image file. Opens it as qcow2 and as raw (read-only,
// then read-write), reads a few ranges, walks the block status, writes a little, flushes and
// closes. Any crash, sanitizer report, uncaught non-BlockError exception, hang or huge
// allocation is a finding; BlockError is the expected answer to a bad image.
#include "block/BlockDriver.h"
#include "block/ChainStatus.h"
#include "block/ImageOpen.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

using namespace e2kvm::block;

namespace {

int imageFd() {
    static int fd = [] {
        int f = memfd_create("e2kvm-fuzz-image", MFD_CLOEXEC);
        if (f < 0)
            std::abort();
        return f;
    }();
    return fd;
}

void loadInput(const uint8_t* data, size_t size) {
    int fd = imageFd();
    if (ftruncate(fd, 0) != 0)
        std::abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, off_t(done));
        if (n <= 0)
            std::abort();
        done += size_t(n);
    }
}

// A few offsets spread over the disk, derived from the input so that they vary.
std::vector<uint64_t> probeOffsets(uint64_t diskSize, const uint8_t* data, size_t size) {
    std::vector<uint64_t> offsets = {0, diskSize / 2, diskSize > 4096 ? diskSize - 4096 : 0};
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < std::min<size_t>(size, 64); ++i)
        h = (h ^ data[i]) * 1099511628211ULL;
    if (diskSize > 0)
        offsets.push_back(h % diskSize);
    return offsets;
}

void exercise(BlockDriver& img, bool writable, const uint8_t* data, size_t size) {
    ImageDescription desc;
    img.describe(desc);
    (void)img.clusterSize();
    (void)img.allocatedBytes();
    const uint64_t diskSize = img.size();
    std::vector<uint8_t> buf(65536);
    for (uint64_t off : probeOffsets(diskSize, data, size)) {
        uint64_t len = std::min<uint64_t>(buf.size(), diskSize - std::min(off, diskSize));
        if (len == 0)
            continue;
        try {
            img.read(off, std::span<uint8_t>(buf.data(), size_t(len)));
        } catch (const BlockError&) {
        }
    }
    // Block status: at most 64 extents from the start of the disk.
    uint64_t pos = 0;
    for (int i = 0; i < 64 && pos < diskSize; ++i) {
        try {
            pos += img.layerStatus(pos, diskSize - pos).length;
        } catch (const BlockError&) {
            break;
        }
    }
    if (diskSize > 0) {
        try {
            (void)chainStatus(img, 0, diskSize);
        } catch (const BlockError&) {
        }
    }
    if (!writable || diskSize == 0)
        return;
    std::fill(buf.begin(), buf.end(), uint8_t(0x5a));
    auto offsets = probeOffsets(diskSize, data, size);
    for (uint64_t off : offsets) {
        uint64_t len = std::min<uint64_t>(4096, diskSize - std::min(off, diskSize));
        if (len == 0)
            continue;
        try {
            img.write(off, std::span<const uint8_t>(buf.data(), size_t(len)));
        } catch (const BlockError&) {
        }
    }
    try {
        img.writeZeroes(offsets[1], std::min<uint64_t>(131072, diskSize - offsets[1]),
                        ZeroMayUnmap);
    } catch (const BlockError&) {
    }
    try {
        img.discard(0, std::min<uint64_t>(65536, diskSize));
    } catch (const BlockError&) {
    }
    try {
        img.flush();
    } catch (const BlockError&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = "/proc/self/fd/" + std::to_string(imageFd());
    for (const char* format : {"qcow2", "raw"}) {
        for (bool writable : {false, true}) {
            loadInput(data, size);
            try {
                OpenOptions options;
                options.format = format;
                options.readOnly = !writable;
                // Backing names in a hostile image could point anywhere on this machine
                // (devices, FIFOs); the chain logic is covered by tests/corrupt instead.
                options.openBacking = false;
                // Same for a qcow2 external data file, which is opened read-write.
                options.openDataFile = false;
                auto img = openImage(path, options);
                exercise(*img, writable, data, size);
            } catch (const BlockError&) {
            }
        }
    }
    return 0;
}

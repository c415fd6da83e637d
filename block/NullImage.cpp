#include "NullImage.h"

#include "bitmap/BitmapCatalog.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace e2kvm::block {

NullImage::NullImage(const std::string& name, const NullOptions& options)
    : BlockDriver(name, options.readOnly),
      size_((std::min(options.size, kMaxSize) + 511) & ~uint64_t(511)),
      readZeroes_(options.readZeroes), latencyNs_(std::min(options.latencyNs, kMaxLatencyNs)),
      underRaw_(options.underRaw) {
    if (options.size > kMaxSize)
        throwError(EFBIG, name, "Could not refresh total sector count: File too large");
    catalog_ = std::make_unique<BitmapCatalog>(*this, nullptr, std::vector<NamedBitmap>{},
                                               !options.readOnly);
}

// The catalog detaches its recorders from this driver, so it goes first.
NullImage::~NullImage() {
    catalog_.reset();
}

std::string NullImage::describeOptions(const NullOptions& options, bool sizeGiven,
                                       bool readZeroesGiven) {
    if (!sizeGiven && !readZeroesGiven)
        return "null-co://";
    std::string json = "json:{\"driver\": \"null-co\"";
    if (readZeroesGiven)
        json += std::string(", \"read-zeroes\": ") + (options.readZeroes ? "true" : "false");
    if (sizeGiven)
        json += ", \"size\": " + std::to_string(options.size);
    return json + "}";
}

void NullImage::delay() const {
    if (latencyNs_)
        std::this_thread::sleep_for(std::chrono::nanoseconds(latencyNs_));
}

void NullImage::doRead(uint64_t, std::span<uint8_t> buf) {
    delay();
    // Also without read-zeroes (where QEMU leaves the buffer as it was): a reader must never
    // see whatever the buffer held before, which may be another client's data.
    std::memset(buf.data(), 0, buf.size());
}

void NullImage::doWrite(uint64_t, std::span<const uint8_t>, unsigned) {
    delay();
}

void NullImage::doWriteZeroes(uint64_t, uint64_t, unsigned) {
    delay();
}

void NullImage::doDiscard(uint64_t, uint64_t) {
    delay();
}

void NullImage::doFlush() {}

// As QEMU's null-co: with read-zeroes every byte is a zero extent whose host offset is the
// guest offset (qemu-img map: "present": true, "zero": true, "offset": start); without it
// nothing is allocated ("present": false).
LayerExtent NullImage::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    LayerExtent e;
    e.length = maxLength;
    if (readZeroes_) {
        e.kind = Allocation::Zero;
        e.hostOffset = offset;
    } else {
        e.kind = Allocation::Unallocated;
    }
    return e;
}

void NullImage::doTruncate(uint64_t) {
    // BlockDriver::truncate has already grown the enabled bitmaps for the new size: undo it.
    catalog_->resize(size_);
    throwError(ENOTSUP, filename(), "Image format driver does not support resize");
}

} // namespace e2kvm::block

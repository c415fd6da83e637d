#include "ui/library/ImageCopy.h"

#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace e2kvm::ui {

namespace {
constexpr uint64_t kChunk = 1 << 20;

bool allZero(const std::vector<uint8_t>& buf, size_t n) {
    return std::all_of(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n),
                       [](uint8_t b) { return b == 0; });
}
} // namespace

void copyImage(const std::string& source, const std::string& destination,
               const std::string& destinationFormat, const CopyProgress& progress) {
    std::error_code ec;
    if (std::filesystem::exists(destination, ec))
        throw std::runtime_error(destination + ": exists already; not overwriting it");
    block::OpenOptions in;
    in.readOnly = true;
    std::unique_ptr<block::BlockDriver> src = block::openImage(source, in);
    const uint64_t size = src->size();
    block::CreateOptions create;
    create.format = destinationFormat;
    create.size = size;
    create.sizeGiven = true;
    block::createImage(destination, create);
    try {
        block::OpenOptions out;
        out.readOnly = false;
        out.format = destinationFormat;
        std::unique_ptr<block::BlockDriver> dst = block::openImage(destination, out);
        std::vector<uint8_t> buf(kChunk);
        uint64_t offset = 0;
        while (offset < size) {
            block::LayerExtent ext = src->layerStatus(offset, std::min(kChunk, size - offset));
            uint64_t len = std::min<uint64_t>(std::max<uint64_t>(ext.length, 1), size - offset);
            len = std::min(len, kChunk);
            bool mayHoldData = ext.kind == block::Allocation::Data ||
                               (ext.kind == block::Allocation::Unallocated && src->backing());
            if (mayHoldData) {
                src->read(offset, std::span(buf.data(), len));
                if (!allZero(buf, len))
                    dst->write(offset, std::span<const uint8_t>(buf.data(), len));
            }
            offset += len;
            if (progress && !progress(offset, size))
                throw std::runtime_error(destination + ": copy cancelled");
        }
        dst->flush();
    } catch (...) {
        std::filesystem::remove(destination, ec);
        throw;
    }
}

} // namespace e2kvm::ui

#include "ui/library/ImageCopy.h"

#include "block/BlockDriver.h"
#include "block/ImageCopy.h"
#include "block/ImageOpen.h"

#include <filesystem>
#include <stdexcept>

namespace e2kvm::ui {

namespace {
// Thrown from the progress callback when it returns false.
struct CopyCancelled : std::runtime_error {
    using std::runtime_error::runtime_error;
};
} // namespace

void copyImage(const std::string& source, const std::string& destination,
               const std::string& destinationFormat, const CopyProgress& progress,
               const std::string& sourceFormat) {
    std::error_code ec;
    if (std::filesystem::exists(destination, ec))
        throw std::runtime_error(destination + ": exists already; not overwriting it");
    block::OpenOptions in;
    in.format = sourceFormat;
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
        uint64_t done = 0;
        block::CopySettings settings;
        settings.orderedWrites = true;
        block::copyImage(*src, *dst, settings, [&](uint64_t bytes) {
            done += bytes;
            if (progress && !progress(done, size))
                throw CopyCancelled(destination + ": copy cancelled");
        });
        if (progress && size == 0)
            progress(0, 0);
        dst->flush();
    } catch (...) {
        std::filesystem::remove(destination, ec);
        throw;
    }
}

} // namespace e2kvm::ui

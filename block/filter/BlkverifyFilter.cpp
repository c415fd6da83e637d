#include "BlkverifyFilter.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace e2kvm::block {

BlkverifyFilter::BlkverifyFilter(std::shared_ptr<BlockDriver> test,
                                 std::shared_ptr<BlockDriver> raw, std::string formatName)
    : BlockDriver(test->filename(), test->readOnly() || raw->readOnly()), test_(std::move(test)),
      raw_(std::move(raw)), formatName_(std::move(formatName)) {}

void BlkverifyFilter::doRead(uint64_t offset, std::span<uint8_t> buf) {
    test_->read(offset, buf);
    std::vector<uint8_t> expected(buf.size());
    raw_->read(offset, expected);
    for (size_t i = 0; i < buf.size(); ++i)
        if (buf[i] != expected[i]) {
            std::fflush(stdout);
            std::fprintf(stderr,
                         "blkverify: read offset=%" PRIu64 " bytes=%zu contents mismatch at "
                         "offset %" PRIu64 "\n",
                         offset, buf.size(), offset + i);
            std::exit(1); // what blkverify is for: stop at the first wrong read
        }
}

void BlkverifyFilter::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    test_->write(offset, buf, writeFlags);
    raw_->write(offset, buf, writeFlags);
}

void BlkverifyFilter::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    test_->writeZeroes(offset, length, zeroFlags);
    raw_->writeZeroes(offset, length, zeroFlags & ~unsigned(ZeroMayUnmap));
}

void BlkverifyFilter::doDiscard(uint64_t offset, uint64_t length) {
    test_->discard(offset, length);
    raw_->discard(offset, length);
}

void BlkverifyFilter::doFlush() {
    test_->flush();
    raw_->flush();
}

LayerExtent BlkverifyFilter::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    return test_->layerStatus(offset, maxLength);
}

void BlkverifyFilter::doTruncate(uint64_t) {
    throw BlockError(ENOTSUP, "Image format driver does not support resize");
}

} // namespace e2kvm::block

#pragma once
// NullImage: QEMU's `null-co` driver, a disk of a given size that stores nothing: writes are
// accepted and dropped, reads give zeros. Used as a throw-away backup target and in tests.
#include "BlockDriver.h"

#include <cstdint>
#include <memory>
#include <string>

namespace e2kvm::block {

struct NullOptions {
    uint64_t size = uint64_t{1} << 30; // QEMU's default: 1 GiB
    // QEMU reports the disk as reading zeros (block status "zero") only with read-zeroes;
    // without it QEMU leaves read buffers untouched. We never hand out stale memory, so reads
    // give zeros either way; only block status differs (see doLayerStatus).
    bool readZeroes = false;
    // Each request completes this much later (capped at kMaxLatencyNs so that a careless
    // value cannot stall an NBD connection for hours).
    uint64_t latencyNs = 0;
    bool readOnly = false;
    // Opened by its protocol name (null-co://): QEMU puts a raw format node over it, so the
    // image reports the format raw.
    bool underRaw = false;
};

class NullImage final : public BlockDriver {
public:
    // Larger sizes fail as in QEMU ("File too large").
    static constexpr uint64_t kMaxSize = (uint64_t{1} << 63) - (uint64_t{1} << 31);
    static constexpr uint64_t kMaxLatencyNs = 1'000'000'000;

    // `name` is what filename() reports ("null-co://" or a json: description). Throws
    // BlockError(EFBIG) for a size above kMaxSize.
    NullImage(const std::string& name, const NullOptions& options);
    ~NullImage() override;

    // The name QEMU gives such a node: "null-co://" when only latency-ns differs from the
    // defaults, else a json: filename listing the options.
    static std::string describeOptions(const NullOptions& options, bool sizeGiven,
                                       bool readZeroesGiven);

    std::string formatName() const override { return underRaw_ ? "raw" : "null-co"; }
    std::string protocolName() const override { return underRaw_ ? "" : "null-co"; }
    bool hasDriverInfo() const override { return false; }
    // The requested size rounded up to a whole 512-byte sector, as QEMU does.
    uint64_t size() const override { return size_; }
    bool readZeroes() const { return readZeroes_; }
    uint64_t latencyNs() const { return latencyNs_; }
    // Without read-zeroes QEMU does not promise zeros, so block status says "not zero".
    bool unallocatedReadsAsZero() const override { return readZeroes_; }
    // Non-persistent bitmaps only (64 KiB default granularity).
    BitmapCatalog* bitmaps() override { return catalog_.get(); }

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;

private:
    void delay() const;

    uint64_t size_;
    bool readZeroes_;
    uint64_t latencyNs_;
    bool underRaw_;
    std::unique_ptr<BitmapCatalog> catalog_;
};

} // namespace e2kvm::block

#pragma once
// BlockHandle: what a user of a node (the VM's disk device) holds instead of the node itself,
// so that the node it reaches can be exchanged while the machine runs (QEMU's BlockBackend):
// QMP `qom-set DEVICE drive NODE` puts a copy-before-write filter under a running device, and
// takes it away again. Every request goes to the current node; retarget() waits for the
// requests in flight, so none is split between the old and the new node. Reads, writes
// (zeroes too), discards and flushes are accounted as QEMU's devices account them.
#include "block/BlockDriver.h"
#include "block/graph/BlockAccounting.h"

#include <functional>
#include <memory>
#include <shared_mutex>

namespace e2kvm::block {

class BlockHandle final : public BlockDriver {
public:
    // `readOnly`: the user only reads (a CD-ROM, a read-only drive), whatever the node allows.
    BlockHandle(std::shared_ptr<BlockDriver> node, bool readOnly);

    std::shared_ptr<BlockDriver> node() const;
    // From now on requests go to `node`. Throws BlockError(EINVAL) when its size differs (the
    // guest sized its disk already) and EPERM when this handle writes but `node` is read-only.
    // `whileHeld` runs once no request is in flight and before any new one starts, just
    // before the exchange (a mirror or an active commit copies its last changes then); if it
    // throws, the handle stays on the old node.
    void retarget(std::shared_ptr<BlockDriver> node,
                  const std::function<void()>& whileHeld = nullptr);

    // The requests made through this handle (query-blockstats of the device's drive).
    const BlockAccounting& accounting() const { return accounting_; }

    std::string formatName() const override;
    uint64_t size() const override;
    uint32_t clusterSize() const override;

protected:
    void doRead(uint64_t offset, std::span<uint8_t> buf) override;
    void doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) override;
    void doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) override;
    void doDiscard(uint64_t offset, uint64_t length) override;
    void doFlush() override;
    LayerExtent doLayerStatus(uint64_t offset, uint64_t maxLength) override;
    void doTruncate(uint64_t newSize) override;
    void doPreallocatingTruncate(uint64_t newSize, Preallocation mode) override;

private:
    // Shared by each request, exclusive while the node is exchanged (a drain).
    mutable std::shared_mutex mutex_;
    std::shared_ptr<BlockDriver> node_;
    BlockAccounting accounting_;
};

} // namespace e2kvm::block

// BlockHandle's accounting (query-blockstats of a device): bytes and operations per kind of
// request, zero writes counted as writes, the highest write end, failed requests counted as
// failed only, and no idle time before the first request.
#include "block/BlockError.h"
#include "block/NullImage.h"
#include "block/graph/BlockHandle.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <vector>

using namespace e2kvm::block;

namespace {

constexpr size_t kRead = size_t(AccountedRequest::Read), kWrite = size_t(AccountedRequest::Write),
                 kFlush = size_t(AccountedRequest::Flush), kUnmap = size_t(AccountedRequest::Unmap);

// A 1 MiB node whose every request fails with EIO.
class FailingNode final : public BlockDriver {
public:
    FailingNode() : BlockDriver("failing", false) {}
    std::string formatName() const override { return "raw"; }
    uint64_t size() const override { return 1 << 20; }

protected:
    void doRead(uint64_t, std::span<uint8_t>) override { fail(); }
    void doWrite(uint64_t, std::span<const uint8_t>, unsigned) override { fail(); }
    void doWriteZeroes(uint64_t, uint64_t, unsigned) override { fail(); }
    void doDiscard(uint64_t, uint64_t) override { fail(); }
    void doFlush() override { fail(); }
    LayerExtent doLayerStatus(uint64_t, uint64_t maxLength) override {
        return LayerExtent{maxLength, Allocation::Data, std::nullopt, false, false};
    }
    void doTruncate(uint64_t) override { fail(); }

private:
    static void fail() { throw BlockError(EIO, "failing: Input/output error"); }
};

std::shared_ptr<BlockDriver> nullNode() {
    NullOptions o;
    o.size = 1 << 20;
    o.readZeroes = true;
    return std::make_shared<NullImage>("null-co://", o);
}

TEST(BlockAccounting, CountsEachKindOfRequest) {
    BlockHandle handle(nullNode(), false);
    BlockAccountingCounters before = handle.accounting().counters();
    EXPECT_FALSE(before.accessed);
    EXPECT_EQ(before.operations[kRead], 0u);

    std::vector<uint8_t> buf(64 << 10, 0x5a);
    handle.read(0, std::span<uint8_t>(buf.data(), 4096));
    handle.write(4096, buf);
    handle.writeZeroes((1 << 20) - 8192, 8192);
    handle.discard(0, 65536);
    handle.flush();

    BlockAccountingCounters c = handle.accounting().counters();
    EXPECT_EQ(c.bytes[kRead], 4096u);
    EXPECT_EQ(c.bytes[kWrite], 65536u + 8192u);
    EXPECT_EQ(c.bytes[kUnmap], 65536u);
    EXPECT_EQ(c.bytes[kFlush], 0u);
    EXPECT_EQ(c.operations[kRead], 1u);
    EXPECT_EQ(c.operations[kWrite], 2u);
    EXPECT_EQ(c.operations[kUnmap], 1u);
    EXPECT_EQ(c.operations[kFlush], 1u);
    EXPECT_EQ(c.writeHighestOffset, uint64_t(1) << 20);
    EXPECT_TRUE(c.accessed);
    for (size_t k = 0; k < kAccountedRequestKinds; ++k)
        EXPECT_EQ(c.failed[k], 0u);
}

TEST(BlockAccounting, FailedRequestsCountAsFailedOnly) {
    BlockHandle handle(std::make_shared<FailingNode>(), false);
    std::vector<uint8_t> buf(4096);
    EXPECT_THROW(handle.read(0, buf), BlockError);
    EXPECT_THROW(handle.write(8192, buf), BlockError);
    EXPECT_THROW(handle.flush(), BlockError);
    BlockAccountingCounters c = handle.accounting().counters();
    EXPECT_EQ(c.failed[kRead], 1u);
    EXPECT_EQ(c.failed[kWrite], 1u);
    EXPECT_EQ(c.failed[kFlush], 1u);
    EXPECT_EQ(c.operations[kRead] + c.operations[kWrite] + c.operations[kFlush], 0u);
    EXPECT_EQ(c.bytes[kRead] + c.bytes[kWrite], 0u);
    EXPECT_EQ(c.writeHighestOffset, 0u); // a failed write moves no highest offset
    EXPECT_TRUE(c.accessed);             // QEMU accounts failed requests' time too
}

} // namespace

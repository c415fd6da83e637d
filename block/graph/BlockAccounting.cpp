#include "BlockAccounting.h"

namespace e2kvm::block {

namespace {

int64_t sinceEpochNs(BlockAccounting::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

} // namespace

void BlockAccounting::record(AccountedRequest kind, uint64_t offset, uint64_t length,
                             Clock::time_point start, bool failed) {
    Clock::time_point end = Clock::now();
    Kind& k = kinds_[size_t(kind)];
    // As QEMU (which accounts failed requests by default): a failed request counts as
    // failed, a finished one with its bytes; the time of both is added up.
    if (failed) {
        k.failed.fetch_add(1, std::memory_order_relaxed);
    } else {
        k.bytes.fetch_add(length, std::memory_order_relaxed);
        k.operations.fetch_add(1, std::memory_order_relaxed);
        if (kind == AccountedRequest::Write || kind == AccountedRequest::Unmap) {
            uint64_t top = offset + length;
            uint64_t seen = writeHighestOffset_.load(std::memory_order_relaxed);
            while (seen < top &&
                   !writeHighestOffset_.compare_exchange_weak(seen, top, std::memory_order_relaxed))
                ;
        }
    }
    k.totalTimeNs.fetch_add(uint64_t(sinceEpochNs(end) - sinceEpochNs(start)),
                            std::memory_order_relaxed);
    // A clock reading of 0 would mean "never"; the steady clock is far past it.
    lastAccessNs_.store(sinceEpochNs(end), std::memory_order_relaxed);
}

BlockAccountingCounters BlockAccounting::counters() const {
    BlockAccountingCounters c;
    for (size_t i = 0; i < kAccountedRequestKinds; ++i) {
        c.bytes[i] = kinds_[i].bytes.load(std::memory_order_relaxed);
        c.operations[i] = kinds_[i].operations.load(std::memory_order_relaxed);
        c.failed[i] = kinds_[i].failed.load(std::memory_order_relaxed);
        c.totalTimeNs[i] = kinds_[i].totalTimeNs.load(std::memory_order_relaxed);
    }
    c.writeHighestOffset = writeHighestOffset_.load(std::memory_order_relaxed);
    int64_t last = lastAccessNs_.load(std::memory_order_relaxed);
    if (last != 0) {
        c.accessed = true;
        c.idleTimeNs = uint64_t(sinceEpochNs(Clock::now()) - last);
    }
    return c;
}

} // namespace e2kvm::block

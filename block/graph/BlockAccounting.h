#pragma once
// BlockAccounting: the request statistics of one user of a node (QEMU's BlockAcctStats of a
// BlockBackend), as query-blockstats reports them: per kind of request the bytes, the
// operations, the failed ones and the time they took, the end of the highest write and when
// the last request finished. Thread-safe; requests are recorded when they end.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace e2kvm::block {

enum class AccountedRequest { Read, Write, Flush, Unmap };
inline constexpr size_t kAccountedRequestKinds = 4;

struct BlockAccountingCounters {
    std::array<uint64_t, kAccountedRequestKinds> bytes{};
    std::array<uint64_t, kAccountedRequestKinds> operations{};
    std::array<uint64_t, kAccountedRequestKinds> failed{};
    std::array<uint64_t, kAccountedRequestKinds> totalTimeNs{};
    uint64_t writeHighestOffset = 0; // the end of the furthest write, zero write or unmap
    // Nanoseconds since the last request ended; absent before the first one.
    bool accessed = false;
    uint64_t idleTimeNs = 0;
};

class BlockAccounting {
public:
    using Clock = std::chrono::steady_clock;

    // A request of `kind` over [offset, offset + length) that started at `start` has ended.
    void record(AccountedRequest kind, uint64_t offset, uint64_t length, Clock::time_point start,
                bool failed);
    BlockAccountingCounters counters() const;

private:
    struct Kind {
        std::atomic<uint64_t> bytes{0}, operations{0}, failed{0}, totalTimeNs{0};
    };
    std::array<Kind, kAccountedRequestKinds> kinds_;
    std::atomic<uint64_t> writeHighestOffset_{0};
    std::atomic<int64_t> lastAccessNs_{0}; // steady clock; 0: never
};

} // namespace e2kvm::block

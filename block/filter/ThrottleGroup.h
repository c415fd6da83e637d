#pragma once
// ThrottleGroup: QEMU's throttle-group object: I/O limits (bytes and operations per second, in
// total or per direction, each with an optional burst) that every throttle node naming the
// group shares. Each limit is a leaky bucket: what requests bring drains at the limit's rate,
// and a request waits while a bucket it counts against is over its size (the burst, or a tenth
// of a second's worth without one). drain() lets the requests waiting now go at once, as
// QEMU's drain does (a job being cancelled, the process ending); release() lets every request
// through from then on.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

namespace e2kvm::block {

// The limit kinds, in QEMU's order of names.
enum class ThrottleKind { BpsTotal, BpsRead, BpsWrite, IopsTotal, IopsRead, IopsWrite };
inline constexpr size_t kThrottleKinds = 6;

struct ThrottleLimit {
    uint64_t avg = 0;       // per second; 0 = no limit
    uint64_t max = 0;       // burst per second; 0 = none
    uint64_t maxLength = 1; // seconds the burst may last
};

struct ThrottleLimits {
    std::array<ThrottleLimit, kThrottleKinds> limit{};
    uint64_t iopsSize = 0; // a request counts as size/iopsSize operations when larger

    // QEMU's name of a kind ("bps-total", "iops-read", ...).
    static const char* name(ThrottleKind kind);
    // Throws BlockError(EINVAL) with QEMU's message for limits it refuses ("bps/iops/max total
    // values and read/write values cannot be used at the same time", ...).
    void check() const;
};

class ThrottleGroup {
public:
    explicit ThrottleGroup(ThrottleLimits limits = {});
    ThrottleLimits limits() const;
    void setLimits(const ThrottleLimits& limits); // checked; throws BlockError
    // Waits until a request of `bytes` in that direction may start, then counts it.
    void admit(bool write, uint64_t bytes);
    void drain();
    void release();

private:
    using Clock = std::chrono::steady_clock;
    void leak(Clock::time_point now);
    // How long the request must wait for the bucket of `kind` (zero: it may go).
    double waitSeconds(size_t kind) const;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    ThrottleLimits limits_;
    std::array<double, kThrottleKinds> level_{};
    Clock::time_point leakedAt_ = Clock::now();
    uint64_t drainGeneration_ = 0;
    bool released_ = false;
};

} // namespace e2kvm::block

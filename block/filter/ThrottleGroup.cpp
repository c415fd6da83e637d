#include "ThrottleGroup.h"

#include "block/BlockError.h"

#include <algorithm>

namespace e2kvm::block {

namespace {

constexpr uint64_t kLimitCeiling = 1000000000000000ull; // QEMU's THROTTLE_VALUE_MAX

bool isBps(size_t kind) {
    return kind <= size_t(ThrottleKind::BpsWrite);
}

} // namespace

const char* ThrottleLimits::name(ThrottleKind kind) {
    static const char* const names[] = {"bps-total",  "bps-read",  "bps-write",
                                        "iops-total", "iops-read", "iops-write"};
    return names[size_t(kind)];
}

void ThrottleLimits::check() const {
    for (size_t group : {size_t(0), size_t(3)}) {
        const auto& total = limit[group];
        const auto& read = limit[group + 1];
        const auto& write = limit[group + 2];
        if ((total.avg && (read.avg || write.avg)) || (total.max && (read.max || write.max)))
            throw BlockError(EINVAL, "bps/iops/max total values and read/write values cannot "
                                     "be used at the same time");
    }
    if (iopsSize && !limit[3].avg && !limit[4].avg && !limit[5].avg)
        throw BlockError(EINVAL, "iops size requires an iops value to be set");
    for (const ThrottleLimit& l : limit) {
        if (l.avg > kLimitCeiling || l.max > kLimitCeiling)
            throw BlockError(EINVAL, "bps/iops/max values must be within [0, " +
                                         std::to_string(kLimitCeiling) + "]");
        if (l.maxLength == 0)
            throw BlockError(EINVAL, "the burst length cannot be 0");
        if (l.maxLength > 1 && !l.max)
            throw BlockError(EINVAL, "burst length set without burst rate");
        if (l.max && l.maxLength > kLimitCeiling / l.max)
            throw BlockError(EINVAL, "burst length too high for this burst rate");
        if (l.max && !l.avg)
            throw BlockError(EINVAL, "bps_max/iops_max require corresponding bps/iops values");
        if (l.max && l.max < l.avg)
            throw BlockError(EINVAL, "bps_max/iops_max cannot be lower than bps/iops");
    }
}

ThrottleGroup::ThrottleGroup(ThrottleLimits limits) : limits_(limits) {
    limits_.check();
}

ThrottleLimits ThrottleGroup::limits() const {
    std::lock_guard lock(mutex_);
    return limits_;
}

void ThrottleGroup::setLimits(const ThrottleLimits& limits) {
    limits.check();
    std::lock_guard lock(mutex_);
    limits_ = limits;
    wake_.notify_all();
}

void ThrottleGroup::leak(Clock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - leakedAt_).count();
    leakedAt_ = now;
    for (size_t k = 0; k < kThrottleKinds; ++k)
        level_[k] = std::max(0.0, level_[k] - seconds * double(limits_.limit[k].avg));
}

double ThrottleGroup::waitSeconds(size_t kind) const {
    const ThrottleLimit& l = limits_.limit[kind];
    if (!l.avg)
        return 0;
    const double bucket = l.max ? double(l.max) * double(l.maxLength) : double(l.avg) / 10;
    const double over = level_[kind] - bucket;
    return over > 0 ? over / double(l.avg) : 0;
}

void ThrottleGroup::admit(bool write, uint64_t bytes) {
    const size_t direction = write ? 2 : 1;
    const size_t kinds[] = {0, direction, 3, 3 + direction};
    std::unique_lock lock(mutex_);
    const uint64_t generation = drainGeneration_;
    for (;;) {
        if (released_ || drainGeneration_ != generation)
            break;
        leak(Clock::now());
        double wait = 0;
        for (size_t k : kinds)
            wait = std::max(wait, waitSeconds(k));
        if (wait <= 0)
            break;
        wake_.wait_for(lock, std::chrono::duration<double>(wait));
    }
    double ops = 1;
    if (limits_.iopsSize && bytes > limits_.iopsSize)
        ops = double(bytes) / double(limits_.iopsSize);
    for (size_t k : kinds)
        level_[k] += isBps(k) ? double(bytes) : ops;
}

void ThrottleGroup::drain() {
    std::lock_guard lock(mutex_);
    ++drainGeneration_;
    wake_.notify_all();
}

void ThrottleGroup::release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    wake_.notify_all();
}

} // namespace e2kvm::block

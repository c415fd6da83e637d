#include "Qcow2RuntimeOptions.h"
#include "block/OnOffValue.h"

#include "Qcow2Overlap.h"
#include "block/BlockError.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>

namespace e2kvm::block::qcow2 {

namespace {

constexpr const char* kSwitches[] = {"lazy-refcounts", "pass-discard-request",
                                     "pass-discard-snapshot", "pass-discard-other"};
constexpr const char* kSizes[] = {"cache-size", "l2-cache-size", "l2-cache-entry-size",
                                  "refcount-cache-size"};
constexpr uint64_t kDefaultL2CacheMax = 32ull << 20; // QEMU's default upper bound (64-bit host)
constexpr uint64_t kMinL2CacheTables = 2;
constexpr uint64_t kMinRefcountCacheTables = 4;

bool switchOn(const DriverOptions& options, const char* key) {
    auto it = options.find(key);
    if (it == options.end())
        return false;
    if (auto on = onOffValue(it->second))
        return *on;
    throw BlockError(EINVAL, std::string("Parameter '") + key + "' expects 'on' or 'off'");
}

std::optional<uint64_t> sizeOption(const DriverOptions& options, const char* key) {
    auto it = options.find(key);
    if (it == options.end())
        return std::nullopt;
    try {
        return parseSize(it->second);
    } catch (const BlockError&) {
        throw BlockError(EINVAL, std::string("Parameter '") + key +
                                     "' expects a non-negative number below 2^64\n"
                                     "Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                                     "giga-, tera-, peta-\nand exabytes, respectively.");
    }
}

} // namespace

bool isQcow2RuntimeOption(const std::string& key) {
    if (key == "overlap-check" || key.rfind("overlap-check.", 0) == 0 ||
        key == "cache-clean-interval")
        return true;
    return std::find(std::begin(kSwitches), std::end(kSwitches), key) != std::end(kSwitches) ||
           std::find(std::begin(kSizes), std::end(kSizes), key) != std::end(kSizes);
}

unsigned checkQcow2RuntimeOptions(const DriverOptions& options, uint64_t clusterSize,
                                  uint64_t diskSize, bool v3) {
    // In QEMU's order: values of the wrong type first, then the cache sizes, the clean
    // interval, lazy refcounts and the overlap checks.
    const bool lazy = switchOn(options, "lazy-refcounts");
    for (const char* key : {"pass-discard-request", "pass-discard-snapshot", "pass-discard-other"})
        switchOn(options, key);
    const auto combined = sizeOption(options, "cache-size");
    const auto l2 = sizeOption(options, "l2-cache-size");
    const auto refcount = sizeOption(options, "refcount-cache-size");
    const uint64_t entrySize = sizeOption(options, "l2-cache-entry-size").value_or(clusterSize);
    const uint64_t l2Needed = ((diskSize + clusterSize - 1) / clusterSize * 8 + clusterSize - 1) /
                              clusterSize * clusterSize;
    uint64_t l2Bytes = std::min(l2Needed, l2.value_or(kDefaultL2CacheMax));
    uint64_t refcountBytes = refcount.value_or(0);
    if (combined) {
        if (l2 && refcount)
            throw BlockError(EINVAL, "cache-size, l2-cache-size and refcount-cache-size may "
                                     "not be set at the same time");
        if (l2 && *l2 > *combined)
            throw BlockError(EINVAL, "l2-cache-size may not exceed cache-size");
        if (refcount && *refcount > *combined)
            throw BlockError(EINVAL, "refcount-cache-size may not exceed cache-size");
        if (l2)
            refcountBytes = *combined - *l2;
        else if (refcount)
            l2Bytes = *combined - *refcount;
        else
            l2Bytes = std::min(*combined, l2Needed);
    }
    if (entrySize < 512 || entrySize > clusterSize || (entrySize & (entrySize - 1)))
        throw BlockError(EINVAL, "L2 cache entry size must be a power of two between 512 and "
                                 "the cluster size (" +
                                     std::to_string(clusterSize) + ")");
    if (std::max(l2Bytes / entrySize, kMinL2CacheTables) > uint64_t(INT_MAX))
        throw BlockError(EINVAL, "L2 cache size too big");
    if (std::max(refcountBytes / clusterSize, kMinRefcountCacheTables) > uint64_t(INT_MAX))
        throw BlockError(EINVAL, "Refcount cache size too big");
    if (auto it = options.find("cache-clean-interval"); it != options.end()) {
        // A number as QEMU reads it: "-1" wraps around, and so is too big.
        char* end = nullptr;
        errno = 0;
        unsigned long long seconds = std::strtoull(it->second.c_str(), &end, 0);
        if (it->second.empty() || *end || errno)
            throw BlockError(EINVAL, "Parameter 'cache-clean-interval' expects a number");
        if (seconds > UINT_MAX)
            throw BlockError(EINVAL, "Cache clean interval too big");
    }
    if (lazy && !v3)
        throw BlockError(EINVAL, "Lazy refcounts require a qcow2 image with at least qemu 1.1 "
                                 "compatibility level");
    return overlapChecksFromOptions(options);
}

std::optional<bool> lazyRefcountsOption(const DriverOptions& options) {
    if (!options.count("lazy-refcounts"))
        return std::nullopt;
    return switchOn(options, "lazy-refcounts");
}

} // namespace e2kvm::block::qcow2

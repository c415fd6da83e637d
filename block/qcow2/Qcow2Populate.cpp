// Qcow2Driver::populate: copy-on-read into this layer, as a stream job fills its top layer from
// the backing chain. Only clusters that are still unallocated here take the data, decided under
// the same locks a guest write takes to allocate, so a guest write that lands first keeps its
// (newer) data and one that comes later overwrites the copy.
#include "Qcow2Driver.h"

#include <algorithm>

namespace e2kvm::block::qcow2 {

namespace {

bool allZero(std::span<const uint8_t> bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

} // namespace

void Qcow2Driver::populate(uint64_t offset, std::span<const uint8_t> bytes) {
    checkAttached();
    data(); // an external data file that is not open fails here, before any L2 change
    if (ext_)
        return populateSubclusters(offset, bytes);
    size_t done = 0;
    while (done < bytes.size()) {
        const uint64_t pos = offset + done;
        const uint64_t c = pos >> cb_, in = pos & (cs_ - 1);
        const uint64_t n = std::min<uint64_t>(cs_ - in, bytes.size() - done);
        auto piece = bytes.subspan(done, size_t(n));
        const bool wholeCluster = in == 0 && (n == cs_ || pos + n == size());
        if (wholeCluster && allZero(piece) && h_.zeroFlagValid()) {
            // A zero cluster; exclusive, so that no write allocates it meanwhile.
            std::unique_lock gate(gate_);
            std::lock_guard lock(meta_);
            if (mapRun(c, 1, true).type == ClusterType::Unallocated)
                zeroClusters(c, 1, false);
        } else {
            std::shared_lock gate(gate_);
            std::unique_lock lock(meta_);
            waitForInflight(lock, c, 1);
            if (mapRun(c, 1, true).type == ClusterType::Unallocated)
                allocatingWrite(lock, c, 1, in, piece);
        }
        done += size_t(n);
    }
}

} // namespace e2kvm::block::qcow2

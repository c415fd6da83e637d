#include "app/backup/PointCopy.h"

#include "block/ImageCopy.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace e2kvm::backup {

namespace {

constexpr uint64_t kChunk = 4u << 20;
constexpr uint64_t kZeroGranule = 64u << 10;

struct Chunk {
    uint64_t offset = 0;
    uint64_t length = 0;
    bool zero = false;
};

// Writes `data` at `offset`: with `compress`, every whole cluster compressed (and the
// disk's last, shorter cluster), the rest as it is.
void writeData(block::BlockDriver& target, uint64_t offset, std::span<const uint8_t> data,
               bool compress) {
    const uint64_t cluster = target.clusterSize();
    if (!compress || cluster == 0) {
        target.write(offset, data);
        return;
    }
    const uint64_t end = offset + data.size();
    uint64_t pos = offset;
    while (pos < end) {
        const uint64_t clusterEnd = std::min((pos / cluster + 1) * cluster, target.size());
        const uint64_t stop = std::min(end, clusterEnd);
        auto piece = data.subspan(size_t(pos - offset), size_t(stop - pos));
        if (pos % cluster == 0 && stop == clusterEnd)
            target.writeCompressed(pos, piece);
        else
            target.write(pos, piece);
        pos = stop;
    }
}

} // namespace

std::vector<ByteRange> intersect(const std::vector<ByteRange>& wanted,
                                 const std::vector<ByteRange>& allocation) {
    std::vector<ByteRange> out;
    size_t j = 0;
    for (const ByteRange& w : wanted) {
        uint64_t pos = w.offset, end = w.offset + w.length;
        while (j < allocation.size() && allocation[j].offset + allocation[j].length <= pos)
            ++j;
        size_t k = j;
        while (pos < end) {
            if (k >= allocation.size()) {
                out.push_back({pos, end - pos, w.zero});
                break;
            }
            const ByteRange& a = allocation[k];
            if (a.offset > pos) { // a gap in the allocation list: treat as data
                uint64_t stop = std::min(end, a.offset);
                out.push_back({pos, stop - pos, w.zero});
                pos = stop;
                continue;
            }
            uint64_t stop = std::min(end, a.offset + a.length);
            out.push_back({pos, stop - pos, w.zero || a.zero});
            pos = stop;
            if (pos == a.offset + a.length)
                ++k;
        }
    }
    return out;
}

CopyTotals copyRanges(SourceView& view, block::BlockDriver& target,
                      const std::vector<ByteRange>& ranges, PointWrites writes,
                      const std::function<void(uint64_t)>& advance,
                      const std::atomic<bool>* cancel) {
    std::vector<Chunk> chunks;
    for (const ByteRange& r : ranges) {
        if (r.zero) {
            if (writes.zeroesMatter)
                chunks.push_back({r.offset, r.length, true});
            else if (advance)
                advance(r.length);
            continue;
        }
        for (uint64_t o = r.offset; o < r.offset + r.length;) {
            // Chunk borders on kChunk multiples keep writes cluster-aligned.
            uint64_t stop = std::min(r.offset + r.length, (o / kChunk + 1) * kChunk);
            chunks.push_back({o, stop - o, false});
            o = stop;
        }
    }
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mutex; // advance, firstError, totals
    std::exception_ptr firstError;
    CopyTotals totals;
    unsigned workers = std::max(1u, std::min<unsigned>(view.readers(), unsigned(chunks.size())));

    auto work = [&](unsigned reader) {
        std::vector<uint8_t> buf(kChunk);
        CopyTotals mine;
        try {
            for (;;) {
                if (failed.load())
                    break;
                if (cancel && cancel->load())
                    throw std::runtime_error("interrupted");
                size_t i = next.fetch_add(1);
                if (i >= chunks.size())
                    break;
                const Chunk& c = chunks[i];
                if (c.zero) {
                    target.writeZeroes(c.offset, c.length, block::ZeroNone);
                    mine.zeroBytes += c.length;
                } else {
                    std::span<uint8_t> data(buf.data(), size_t(c.length));
                    view.read(reader, c.offset, data);
                    // Write runs of equally zero / non-zero granules.
                    uint64_t pos = 0;
                    while (pos < c.length) {
                        auto granuleEnd = [&](uint64_t p) {
                            uint64_t abs = c.offset + p;
                            return std::min(c.length,
                                            (abs / kZeroGranule + 1) * kZeroGranule - c.offset);
                        };
                        uint64_t g = granuleEnd(pos);
                        bool zero = block::isAllZero(buf.data() + pos, size_t(g - pos));
                        uint64_t runEnd = g;
                        while (runEnd < c.length) {
                            uint64_t ng = granuleEnd(runEnd);
                            if (block::isAllZero(buf.data() + runEnd, size_t(ng - runEnd)) != zero)
                                break;
                            runEnd = ng;
                        }
                        if (!zero) {
                            writeData(target, c.offset + pos, data.subspan(pos, runEnd - pos),
                                      writes.compress);
                            mine.dataBytes += runEnd - pos;
                        } else if (writes.zeroesMatter) {
                            target.writeZeroes(c.offset + pos, runEnd - pos, block::ZeroNone);
                            mine.zeroBytes += runEnd - pos;
                        }
                        pos = runEnd;
                    }
                }
                if (advance) {
                    std::lock_guard lock(mutex);
                    advance(c.length);
                }
            }
        } catch (...) {
            std::lock_guard lock(mutex);
            if (!firstError)
                firstError = std::current_exception();
            failed = true;
        }
        std::lock_guard lock(mutex);
        totals.dataBytes += mine.dataBytes;
        totals.zeroBytes += mine.zeroBytes;
    };
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < workers; ++i)
        threads.emplace_back(work, i);
    work(0);
    for (auto& t : threads)
        t.join();
    if (firstError)
        std::rethrow_exception(firstError);
    return totals;
}

} // namespace e2kvm::backup

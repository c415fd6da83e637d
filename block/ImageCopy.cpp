#include "block/ImageCopy.h"

#include "block/ChainStatus.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace e2kvm::block {

bool isAllZero(const uint8_t* data, size_t length) {
    size_t i = 0;
    // Word-sized compares; the compiler vectorises this loop.
    for (; i + 64 <= length; i += 64) {
        uint64_t acc = 0;
        for (size_t k = 0; k < 64; k += 8) {
            uint64_t w;
            std::memcpy(&w, data + i + k, 8);
            acc |= w;
        }
        if (acc)
            return false;
    }
    for (; i < length; ++i)
        if (data[i])
            return false;
    return true;
}

namespace {

// One piece of target work: data from the chunk buffer or a run of zeros.
struct WriteOp {
    uint64_t offset;
    uint64_t length;
    bool zero;
    size_t bufferPos; // data: position in the chunk buffer
};

class CopyJob {
public:
    CopyJob(BlockDriver& source, BlockDriver& target, const CopySettings& settings,
            const CopyAdvance& advance)
        : source_(source), target_(target), settings_(settings), advance_(advance),
          size_(source.size()) {
        uint64_t unit = std::max<uint64_t>(target.clusterSize(), 64 * 1024);
        chunkSize_ = std::max<uint64_t>({unit, 4 << 20, settings.minSparse});
        chunkSize_ = (chunkSize_ + unit - 1) / unit * unit;
        chunks_ = (size_ + chunkSize_ - 1) / chunkSize_;
    }

    void run() {
        if (settings_.salvage)
            for (uint64_t off = 0; off < size_;)
                off += std::max<uint64_t>(1, statusAt(off, size_ - off).length);
        unsigned n =
            std::max(1u, std::min<unsigned>(settings_.workers, unsigned(chunks_ ? chunks_ : 1)));
        std::vector<std::thread> threads;
        for (unsigned i = 1; i < n; ++i)
            threads.emplace_back([this] { work(); });
        work();
        for (auto& t : threads)
            t.join();
        if (error_)
            std::rethrow_exception(error_);
        // Like qemu-img convert, no flush to stable storage at the end: the page cache
        // writes the data back (format drivers write their metadata as they go).
    }

private:
    void work() {
        std::vector<uint8_t> buffer(chunkSize_);
        std::vector<WriteOp> ops;
        try {
            for (;;) {
                uint64_t index = takeChunk();
                if (index >= chunks_ || failed_.load())
                    return;
                uint64_t start = index * chunkSize_;
                uint64_t end = std::min(size_, start + chunkSize_);
                ops.clear();
                planChunk(start, end, buffer, ops);
                waitForTurn(index);
                writeOps(ops, buffer, start);
                finishTurn(index);
                if (advance_ && !settings_.progressSteps) {
                    std::lock_guard lock(advanceMutex_);
                    if (failed_)
                        return; // no progress reports after a failure or a cancel
                    try {
                        advance_(end - start);
                    } catch (...) {
                        failed_ = true;
                        throw;
                    }
                }
            }
        } catch (...) {
            std::lock_guard lock(turnMutex_);
            keepFirstFailure(error_, std::current_exception());
            failed_ = true;
            turnChanged_.notify_all();
        }
    }

    // The next chunk's index; with progress steps, the steps that end in it are reported
    // (chunks are taken in order, so they are too).
    uint64_t takeChunk() {
        if (!settings_.progressSteps || !advance_)
            return nextChunk_.fetch_add(1);
        std::lock_guard lock(advanceMutex_);
        const uint64_t index = nextChunk_.fetch_add(1);
        if (index >= chunks_ || failed_)
            return index;
        const uint64_t end = std::min(size_, (index + 1) * chunkSize_);
        const std::vector<ProgressStep>& steps = *settings_.progressSteps;
        for (; nextStep_ < steps.size() && steps[nextStep_].end <= end; ++nextStep_) {
            try {
                advance_(steps[nextStep_].length);
            } catch (...) {
                failed_ = true;
                throw;
            }
        }
        return index;
    }

    // Reads the chunk's data and decides what to write.
    void planChunk(uint64_t start, uint64_t end, std::vector<uint8_t>& buffer,
                   std::vector<WriteOp>& ops) {
        for (uint64_t off = start; off < end;) {
            if (settings_.topLayerOnly) {
                LayerExtent top = source_.layerStatus(off, end - off);
                uint64_t len = std::min(top.length, end - off);
                if (top.kind == Allocation::Unallocated) {
                    off += len;
                    continue;
                }
                planRange(start, off, off + len, buffer, ops);
                off += len;
                continue;
            }
            planRange(start, off, end, buffer, ops);
            return;
        }
    }

    // planChunk's work for [from, end) of the chunk that begins at `start`.
    void planRange(uint64_t start, uint64_t from, uint64_t end, std::vector<uint8_t>& buffer,
                   std::vector<WriteOp>& ops) {
        for (uint64_t off = from; off < end;) {
            ChainExtent e = statusAt(off, end - off);
            e.length = std::min(e.length, end - off);
            size_t pos = size_t(off - start);
            if (e.zero && !e.data) {
                addZero(ops, off, e.length);
            } else {
                readData(off, std::span(buffer.data() + pos, size_t(e.length)));
                splitData(ops, buffer, start, off, e.length);
            }
            off += e.length;
        }
    }

    // The chain's status at `off`; when salvaging, a failed query is asked again for a
    // quarter of the sectors (rounded up) until it succeeds or covers one sector, which is
    // then taken as data.
    ChainExtent statusAt(uint64_t off, uint64_t maxLength) {
        constexpr uint64_t kSector = 512;
        uint64_t sectors = (maxLength + kSector - 1) / kSector;
        for (;;) {
            try {
                return chainStatus(source_, off, std::min(maxLength, sectors * kSector));
            } catch (const BlockError& e) {
                if (!settings_.salvage)
                    throw;
                if (sectors > 1) {
                    sectors = (sectors + 3) / 4;
                    continue;
                }
                warn("error while reading block status at offset " + std::to_string(off) + ": " +
                     std::strerror(e.errnoValue()));
                ChainExtent data;
                data.length = std::min(maxLength, kSector);
                data.data = true;
                return data;
            }
        }
    }

    // Reads `buf` from `off`; when salvaging, a failed read is done again sector by sector
    // and the sectors that still fail read as zeroes.
    void readData(uint64_t off, std::span<uint8_t> buf) {
        constexpr size_t kSector = 512;
        try {
            source_.read(off, buf);
            return;
        } catch (const BlockError&) {
            if (!settings_.salvage)
                throw;
        }
        for (size_t pos = 0; pos < buf.size(); pos += kSector) {
            std::span<uint8_t> sector = buf.subspan(pos, std::min(kSector, buf.size() - pos));
            try {
                source_.read(off + pos, sector);
            } catch (const BlockError& e) {
                warn("error while reading offset " + std::to_string(off + pos) + ": " +
                     std::strerror(e.errnoValue()));
                std::fill(sector.begin(), sector.end(), uint8_t(0));
            }
        }
    }

    void warn(const std::string& message) {
        if (!settings_.warn)
            return;
        std::lock_guard lock(advanceMutex_);
        settings_.warn(message);
    }

    void addZero(std::vector<WriteOp>& ops, uint64_t off, uint64_t len) {
        if (!ops.empty() && ops.back().zero && ops.back().offset + ops.back().length == off)
            ops.back().length += len;
        else
            ops.push_back({off, len, true, 0});
    }

    void addData(std::vector<WriteOp>& ops, uint64_t chunkStart, uint64_t off, uint64_t len) {
        if (!ops.empty() && !ops.back().zero && ops.back().offset + ops.back().length == off)
            ops.back().length += len;
        else
            ops.push_back({off, len, false, size_t(off - chunkStart)});
    }

    // Data ranges: aligned runs of minSparse zero bytes become zero ops.
    void splitData(std::vector<WriteOp>& ops, const std::vector<uint8_t>& buffer,
                   uint64_t chunkStart, uint64_t off, uint64_t len) {
        uint64_t unit = settings_.minSparse;
        if (unit == 0 || settings_.compress || settings_.copyDataAsIs) {
            addData(ops, chunkStart, off, len);
            return;
        }
        // As qemu-img: a data range shorter than minSparse that holds only zeros is sparse.
        if (len < unit && isAllZero(buffer.data() + (off - chunkStart), size_t(len))) {
            addZero(ops, off, len);
            return;
        }
        uint64_t end = off + len;
        while (off < end) {
            uint64_t next = std::min(end, (off / unit + 1) * unit);
            bool zero = next - off == unit &&
                        isAllZero(buffer.data() + (off - chunkStart), size_t(next - off));
            if (zero)
                addZero(ops, off, next - off);
            else
                addData(ops, chunkStart, off, next - off);
            off = next;
        }
    }

    void writeOps(const std::vector<WriteOp>& ops, std::vector<uint8_t>& buffer,
                  uint64_t chunkStart) {
        if (settings_.compress) {
            // Each run of adjacent ops on its own: ranges between them are not written.
            for (size_t first = 0; first < ops.size();) {
                size_t last = first + 1;
                while (last < ops.size() &&
                       ops[last].offset == ops[last - 1].offset + ops[last - 1].length)
                    ++last;
                writeCompressed(std::span(ops.data() + first, last - first), buffer, chunkStart);
                first = last;
            }
            return;
        }
        for (const WriteOp& op : ops) {
            writeAt(op.offset, [&] {
                if (!op.zero) {
                    target_.write(op.offset, std::span<const uint8_t>(buffer.data() + op.bufferPos,
                                                                      op.length));
                } else if (settings_.minSparse == 0) {
                    writeZeroData(op.offset, op.length);
                } else if (!settings_.targetReadsZero) {
                    target_.writeZeroes(op.offset, op.length, ZeroMayUnmap);
                }
            });
        }
    }

    // Keeps in `kept` the failure to report: the first that happened, or of two failed writes
    // the one at the lower offset (qemu-img reports the first failed write in disk order,
    // whichever of the workers writing at once meets its failure first).
    static void keepFirstFailure(std::exception_ptr& kept, std::exception_ptr now) {
        if (!kept) {
            kept = now;
            return;
        }
        auto offsetOf = [](const std::exception_ptr& e) -> std::optional<uint64_t> {
            try {
                std::rethrow_exception(e);
            } catch (const CopyWriteError& w) {
                return w.offset();
            } catch (...) {
                return std::nullopt;
            }
        };
        const auto keptOffset = offsetOf(kept), nowOffset = offsetOf(now);
        if (keptOffset && nowOffset && *nowOffset < *keptOffset)
            kept = now;
    }

    // Runs one write request to the target at `offset`; its failure names that offset.
    template <typename Write> static void writeAt(uint64_t offset, Write&& write) {
        try {
            write();
        } catch (const CopyWriteError&) {
            throw;
        } catch (const BlockError& e) {
            throw CopyWriteError(e, offset);
        }
    }

    // -S 0: the output is fully allocated, so zeros are written as data.
    void writeZeroData(uint64_t offset, uint64_t length) {
        static const std::vector<uint8_t> zeros(1 << 20);
        while (length) {
            size_t n = size_t(std::min<uint64_t>(length, zeros.size()));
            target_.write(offset, std::span(zeros.data(), n));
            offset += n;
            length -= n;
        }
    }

    // Compressed output: every cluster that is not all zero is written compressed.
    // `ops` are adjacent; the buffer holds the chunk that begins at chunkStart.
    void writeCompressed(std::span<const WriteOp> ops, std::vector<uint8_t>& buffer,
                         uint64_t chunkStart) {
        uint64_t cluster = target_.clusterSize() ? target_.clusterSize() : 65536;
        if (ops.empty())
            return;
        uint64_t runStart = ops.front().offset;
        uint64_t runEnd = ops.back().offset + ops.back().length;
        // Zero ranges are zero in the buffer too, so that whole clusters can be judged.
        for (const WriteOp& op : ops)
            if (op.zero)
                std::memset(buffer.data() + (op.offset - chunkStart), 0, op.length);
        std::vector<uint64_t> packed; // offsets of the clusters to write compressed
        for (uint64_t off = runStart; off < runEnd; off += cluster) {
            uint64_t len = std::min(cluster, runEnd - off);
            const uint8_t* p = buffer.data() + (off - chunkStart);
            // -S 0 (minSparse 0): zero clusters are written too, compressed, as qemu-img does.
            if (settings_.minSparse && isAllZero(p, len)) {
                if (!settings_.targetReadsZero)
                    writeAt(off, [&] { target_.writeZeroes(off, len, ZeroMayUnmap); });
                continue;
            }
            packed.push_back(off);
        }
        auto writeOne = [&](uint64_t off) {
            const uint64_t len = std::min(cluster, runEnd - off);
            writeAt(off, [&] {
                target_.writeCompressed(
                    off, std::span<const uint8_t>(buffer.data() + (off - chunkStart), len));
            });
        };
        // Compressing is most of the work, and the driver compresses before it takes its
        // locks: the clusters of a run are written by several threads at once (as qemu-img's
        // qcow2 compresses a request's clusters in parallel), the run as a whole still in turn.
        const unsigned helpers =
            unsigned(std::min<size_t>(settings_.workers, packed.size())) - (packed.empty() ? 0 : 1);
        std::atomic<size_t> next{0};
        std::exception_ptr failure;
        std::mutex failureMutex;
        auto drain = [&] {
            try {
                for (size_t i; (i = next.fetch_add(1)) < packed.size();)
                    writeOne(packed[i]);
            } catch (...) {
                std::lock_guard lock(failureMutex);
                keepFirstFailure(failure, std::current_exception());
                next = packed.size();
            }
        };
        std::vector<std::thread> threads;
        for (unsigned i = 0; i < helpers; ++i)
            threads.emplace_back(drain);
        drain();
        for (auto& t : threads)
            t.join();
        if (failure)
            std::rethrow_exception(failure);
    }

    void waitForTurn(uint64_t index) {
        if (!settings_.orderedWrites)
            return;
        std::unique_lock lock(turnMutex_);
        turnChanged_.wait(lock, [&] { return turn_ == index || failed_.load(); });
        if (failed_)
            throw std::runtime_error("copy aborted");
    }

    void finishTurn(uint64_t index) {
        if (!settings_.orderedWrites)
            return;
        std::lock_guard lock(turnMutex_);
        turn_ = index + 1;
        turnChanged_.notify_all();
    }

    BlockDriver& source_;
    BlockDriver& target_;
    const CopySettings& settings_;
    const CopyAdvance& advance_;
    std::mutex advanceMutex_;
    size_t nextStep_ = 0; // (advanceMutex_)
    uint64_t size_;
    uint64_t chunkSize_ = 0;
    uint64_t chunks_ = 0;
    std::atomic<uint64_t> nextChunk_{0};
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
    std::mutex turnMutex_;
    std::condition_variable turnChanged_;
    uint64_t turn_ = 0;
};

} // namespace

std::vector<ProgressStep> convertProgressSteps(BlockDriver& source, const CopySettings& settings,
                                               uint64_t targetCluster) {
    const uint64_t unit = settings.compress ? std::max<uint64_t>(targetCluster, 512) : 0;
    const uint64_t piece = unit ? unit : 2 << 20; // qemu-img convert's buffer
    std::vector<ProgressStep> steps;
    const uint64_t size = source.size();
    for (uint64_t off = 0; off < size;) {
        bool data;
        uint64_t length;
        if (settings.topLayerOnly) {
            LayerExtent top = source.layerStatus(off, size - off);
            length = top.length;
            data = top.kind == Allocation::Data;
        } else {
            ChainExtent e = chainStatus(source, off, size - off);
            length = e.length;
            data = !(e.zero && !e.data);
        }
        length = std::max<uint64_t>(1, std::min(length, size - off));
        if (data)
            length = std::min(length, piece);
        if (unit && length < unit) {
            // Compressed output is written in whole clusters.
            length = std::min(unit, size - off);
            data = true;
        } else if (unit) {
            length = length / unit * unit;
        }
        const bool counted = data || (settings.minSparse == 0 && !settings.topLayerOnly);
        for (uint64_t from = off; counted && from < off + length; from += piece)
            steps.push_back(
                {std::min(off + length, from + piece), std::min(piece, off + length - from)});
        off += length;
    }
    return steps;
}

void copyImage(BlockDriver& source, BlockDriver& target, const CopySettings& settings,
               const CopyAdvance& advance) {
    CopyJob job(source, target, settings, advance);
    job.run();
}

} // namespace e2kvm::block

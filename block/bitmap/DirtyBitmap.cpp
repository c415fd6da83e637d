#include "block/bitmap/DirtyBitmap.h"

#include "block/BlockError.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace e2kvm::block {

namespace {

constexpr uint64_t kAllOnes = ~uint64_t{0};

struct FreeDeleter {
    void operator()(uint64_t* p) const { std::free(p); }
};

// A zero-initialised array of 64-bit words. calloc lets the kernel hand out zero pages
// lazily, so a huge, mostly clean bitmap only costs memory where it has dirty bits.
struct WordArray {
    std::unique_ptr<uint64_t[], FreeDeleter> words;
    uint64_t size = 0;

    explicit WordArray(uint64_t n) : size(n) {
        if (n == 0)
            return;
        words.reset(static_cast<uint64_t*>(std::calloc(n, sizeof(uint64_t))));
        if (!words)
            throw BlockError(ENOMEM, "dirty bitmap: cannot allocate " +
                                         std::to_string(n * sizeof(uint64_t)) + " bytes");
    }
    uint64_t* data() { return words.get(); }
    const uint64_t* data() const { return words.get(); }
};

// Maps the whole pages of [p, p + len) before they are all written: one system call instead of
// a page fault per page (loading a large bitmap otherwise spends most of its time in faults).
// Only an optimisation: without MADV_POPULATE_WRITE (Linux < 5.14) the writes fault as usual.
void prefaultForWrite(void* p, size_t len) {
#ifdef MADV_POPULATE_WRITE
    static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
    uintptr_t end = (reinterpret_cast<uintptr_t>(p) + len) & ~(page - 1);
    if (end > begin + page)
        madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
    (void)p, (void)len;
#endif
}

// Set bits in words [0, n). Written out (not std::popcount, which is a libgcc call per word
// on the x86-64 baseline) so that the compiler can vectorise it.
uint64_t countBits(const uint64_t* words, size_t n) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
        uint64_t x = words[i];
        x = x - ((x >> 1) & 0x5555555555555555ull);
        x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
        x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
        total += (x * 0x0101010101010101ull) >> 56;
    }
    return total;
}

std::string rangeText(uint64_t offset, uint64_t length, uint64_t size) {
    return "offset " + std::to_string(offset) + ", length " + std::to_string(length) + ", size " +
           std::to_string(size);
}

} // namespace

// The bits and their summaries. Level 0 holds one bit per granule. For k >= 1, bit i of
// anySet[k] says "word i of level k-1 (anySet, or the bits) is non-zero" and bit i of
// allSet[k] says "word i of level k-1 (allSet, or the bits) is all ones". Searching for a
// clean granule is searching for a set bit in the complement, which allSet summarises.
struct BitmapStorage {
    uint64_t diskSize = 0;
    uint64_t granularity = 0;
    unsigned shift = 0;
    uint64_t granules = 0;
    uint64_t count = 0; // dirty granules
    std::vector<uint64_t> levelWords;
    std::vector<WordArray> anySet; // [0] is the bits themselves
    std::vector<WordArray> allSet; // [0] unused

    BitmapStorage(uint64_t size, uint64_t gran) : diskSize(size), granularity(gran) {
        if (gran < DirtyBitmap::kMinGranularity || gran > DirtyBitmap::kMaxGranularity ||
            !std::has_single_bit(gran))
            throw BlockError(EINVAL, "dirty bitmap: granularity " + std::to_string(gran) +
                                         " is not a power of two between 512 B and 2 GiB");
        if (size > DirtyBitmap::kMaxDiskSize)
            throw BlockError(EINVAL, "dirty bitmap: disk size " + std::to_string(size) +
                                         " exceeds 2^63 bytes");
        shift = static_cast<unsigned>(std::countr_zero(gran));
        granules = (size >> shift) + ((size & (gran - 1)) != 0);
        if (granules > DirtyBitmap::kMaxGranules)
            throw BlockError(EFBIG, "dirty bitmap: disk of " + std::to_string(size) +
                                        " bytes at granularity " + std::to_string(gran) +
                                        " needs " + std::to_string(granules) +
                                        " granules, more than 2^38; use a coarser granularity");
        levelWords.push_back((granules + 63) / 64);
        while (levelWords.back() > 1)
            levelWords.push_back((levelWords.back() + 63) / 64);
        for (size_t k = 0; k < levelWords.size(); ++k) {
            anySet.emplace_back(levelWords[k]);
            allSet.emplace_back(k == 0 ? 0 : levelWords[k]);
        }
    }

    BitmapStorage(const BitmapStorage& o) : BitmapStorage(o.diskSize, o.granularity) {
        count = o.count;
        for (size_t k = 0; k < levelWords.size(); ++k) {
            if (levelWords[k] == 0)
                continue;
            std::memcpy(anySet[k].data(), o.anySet[k].data(), levelWords[k] * 8);
            if (k > 0)
                std::memcpy(allSet[k].data(), o.allSet[k].data(), levelWords[k] * 8);
        }
    }

    BitmapStorage(BitmapStorage&&) = default;
    BitmapStorage& operator=(BitmapStorage&&) = default;
    BitmapStorage& operator=(const BitmapStorage&) = delete;

    uint64_t* bits() { return anySet[0].data(); }
    const uint64_t* bits() const { return anySet[0].data(); }

    // Word `i` of `level` as seen by a search for dirty (clean == false) or clean granules.
    uint64_t searchWord(size_t level, bool clean, uint64_t i) const {
        if (!clean)
            return anySet[level].data()[i];
        return ~(level == 0 ? bits()[i] : allSet[level].data()[i]);
    }

    // First granule >= start that is dirty (clean), if any.
    std::optional<uint64_t> find(uint64_t start, bool clean) const {
        if (start >= granules)
            return std::nullopt;
        size_t level = 0;
        uint64_t idx = start;
        for (;;) {
            uint64_t wi = idx >> 6;
            if (wi >= levelWords[level])
                return std::nullopt;
            uint64_t w = searchWord(level, clean, wi) & (kAllOnes << (idx & 63));
            if (w) {
                idx = (wi << 6) + static_cast<uint64_t>(std::countr_zero(w));
                break;
            }
            if (level + 1 >= levelWords.size())
                return std::nullopt;
            ++level;
            idx = wi + 1;
        }
        while (level > 0) {
            --level;
            // Padding bits past the last word of a level read as "clean" in a clean search.
            if (idx >= levelWords[level])
                return std::nullopt;
            uint64_t w = searchWord(level, clean, idx);
            if (w == 0) // cannot happen while the summaries are consistent
                return std::nullopt;
            idx = (idx << 6) + static_cast<uint64_t>(std::countr_zero(w));
        }
        if (idx >= granules)
            return std::nullopt;
        return idx;
    }

    // Recomputes the summary bits above level-0 words [lo, hi].
    void refresh(uint64_t lo, uint64_t hi) {
        for (size_t k = 0; k + 1 < levelWords.size(); ++k) {
            const uint64_t* srcAny = anySet[k].data();
            const uint64_t* srcAll = k == 0 ? bits() : allSet[k].data();
            uint64_t* dstAny = anySet[k + 1].data();
            uint64_t* dstAll = allSet[k + 1].data();
            for (uint64_t j = lo >> 6; j <= hi >> 6; ++j) {
                uint64_t from = std::max(lo, j << 6);
                uint64_t to = std::min(hi, (j << 6) + 63);
                uint64_t a = 0;
                uint64_t f = 0;
                for (uint64_t i = from; i <= to; ++i) {
                    a |= uint64_t{srcAny[i] != 0} << (i & 63);
                    f |= uint64_t{srcAll[i] == kAllOnes} << (i & 63);
                }
                uint64_t mask = (kAllOnes << (from & 63)) & (kAllOnes >> (63 - (to & 63)));
                dstAny[j] = (dstAny[j] & ~mask) | a;
                dstAll[j] = (dstAll[j] & ~mask) | f;
            }
            lo >>= 6;
            hi >>= 6;
        }
    }

    // Sets (value) or clears granules [first, last].
    void assign(uint64_t first, uint64_t last, bool value) {
        uint64_t w0 = first >> 6;
        uint64_t w1 = last >> 6;
        uint64_t* b = bits();
        for (uint64_t w = w0; w <= w1; ++w) {
            uint64_t mask = kAllOnes;
            if (w == w0)
                mask &= kAllOnes << (first & 63);
            if (w == w1)
                mask &= kAllOnes >> (63 - (last & 63));
            uint64_t old = b[w];
            uint64_t nv = value ? (old | mask) : (old & ~mask);
            if (nv != old) {
                count = count - static_cast<uint64_t>(std::popcount(old)) +
                        static_cast<uint64_t>(std::popcount(nv));
                b[w] = nv;
            }
        }
        refresh(w0, w1);
    }

    void assignBytes(uint64_t offset, uint64_t length, bool value, const char* op) {
        if (offset > diskSize || length > diskSize - offset)
            throw BlockError(EINVAL, std::string("dirty bitmap: ") + op + " past end of disk: " +
                                         rangeText(offset, length, diskSize));
        if (length == 0)
            return;
        assign(offset >> shift, (offset + length - 1) >> shift, value);
    }

    bool testGranule(uint64_t g) const { return (bits()[g >> 6] >> (g & 63)) & 1; }

    // Byte offset of the first granule >= offset in [offset, limit) that is dirty (clean).
    std::optional<uint64_t> nextMatch(uint64_t offset, uint64_t limit, bool clean) const {
        limit = std::min(limit, diskSize);
        if (offset >= limit)
            return std::nullopt;
        auto g = find(offset >> shift, clean);
        if (!g)
            return std::nullopt;
        uint64_t byte = std::max(offset, *g << shift);
        if (byte >= limit)
            return std::nullopt;
        return byte;
    }

    uint64_t serializedSize() const { return (granules + 7) / 8; }

    void checkSerialRange(uint64_t byteOffset, uint64_t length, const char* op) const {
        uint64_t total = serializedSize();
        if (byteOffset > total || length > total - byteOffset)
            throw BlockError(EINVAL, std::string("dirty bitmap: ") + op +
                                         " past end of serialized bitmap: " +
                                         rangeText(byteOffset, length, total));
    }

    // Clears the bits past the last granule in the last word.
    void maskTail() {
        if (granules % 64 != 0)
            bits()[granules / 64] &= kAllOnes >> (64 - granules % 64);
    }

    // Set bits in level-0 words [lo, hi]; words that the summary says are zero are not read.
    uint64_t countWords(uint64_t lo, uint64_t hi) const {
        if (levelWords.size() < 2)
            return countBits(bits() + lo, size_t(hi - lo + 1));
        uint64_t total = 0;
        const uint64_t* nonZero = anySet[1].data();
        for (uint64_t j = lo >> 6; j <= hi >> 6; ++j) {
            uint64_t m = nonZero[j];
            if (j == lo >> 6)
                m &= kAllOnes << (lo & 63);
            if (j == hi >> 6)
                m &= kAllOnes >> (63 - (hi & 63));
            for (; m; m &= m - 1)
                total += countBits(bits() + (j << 6) + uint64_t(std::countr_zero(m)), 1);
        }
        return total;
    }

    void recountAndRefresh() {
        count = countBits(bits(), size_t(levelWords[0]));
        if (levelWords[0] > 0)
            refresh(0, levelWords[0] - 1);
    }

    uint64_t memoryBytes() const {
        uint64_t total = 0;
        for (size_t k = 0; k < levelWords.size(); ++k)
            total += (anySet[k].size + allSet[k].size) * 8;
        return total;
    }
};

struct DirtyBitmap::Impl {
    mutable std::shared_mutex mutex;
    BitmapStorage s;

    Impl(uint64_t diskSize, uint64_t granularity) : s(diskSize, granularity) {}
    explicit Impl(const BitmapStorage& other) : s(other) {}

    // Caller holds the lock exclusively.
    void resizeLocked(uint64_t newDiskSize) {
        BitmapStorage n(newDiskSize, s.granularity);
        uint64_t keep = std::min(n.levelWords[0], s.levelWords[0]);
        if (keep > 0)
            std::memcpy(n.bits(), s.bits(), keep * 8);
        n.maskTail();
        n.recountAndRefresh();
        s = std::move(n);
    }
};

DirtyBitmap::DirtyBitmap(uint64_t diskSize, uint64_t granularity)
    : impl_(new Impl(diskSize, granularity)) {}

DirtyBitmap::~DirtyBitmap() {
    delete impl_;
}

DirtyBitmap::DirtyBitmap(const DirtyBitmap& other) : impl_(nullptr) {
    std::shared_lock lock(other.impl_->mutex);
    impl_ = new Impl(other.impl_->s);
}

DirtyBitmap& DirtyBitmap::operator=(const DirtyBitmap& other) {
    if (this == &other)
        return *this;
    std::unique_ptr<BitmapStorage> copy;
    {
        std::shared_lock lock(other.impl_->mutex);
        copy = std::make_unique<BitmapStorage>(other.impl_->s);
    }
    std::unique_lock lock(impl_->mutex);
    impl_->s = std::move(*copy);
    return *this;
}

uint64_t DirtyBitmap::diskSize() const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.diskSize;
}

uint64_t DirtyBitmap::granularity() const {
    return impl_->s.granularity;
}

uint64_t DirtyBitmap::granuleCount() const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.granules;
}

void DirtyBitmap::set(uint64_t offset, uint64_t length) {
    std::unique_lock lock(impl_->mutex);
    impl_->s.assignBytes(offset, length, true, "set");
}

void DirtyBitmap::reset(uint64_t offset, uint64_t length) {
    std::unique_lock lock(impl_->mutex);
    impl_->s.assignBytes(offset, length, false, "reset");
}

void DirtyBitmap::clear() {
    std::unique_lock lock(impl_->mutex);
    BitmapStorage& s = impl_->s;
    // Only the non-zero words need clearing; the summaries say where they are.
    uint64_t g = 0;
    while (auto d = s.find(g, false)) {
        uint64_t w = *d >> 6;
        s.bits()[w] = 0;
        s.refresh(w, w);
        g = (w + 1) << 6;
    }
    s.count = 0;
}

bool DirtyBitmap::test(uint64_t offset) const {
    std::shared_lock lock(impl_->mutex);
    const BitmapStorage& s = impl_->s;
    if (offset >= s.diskSize)
        return false;
    return s.testGranule(offset >> s.shift);
}

std::optional<uint64_t> DirtyBitmap::nextDirty(uint64_t offset, uint64_t limit) const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.nextMatch(offset, limit, false);
}

std::optional<uint64_t> DirtyBitmap::nextClean(uint64_t offset, uint64_t limit) const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.nextMatch(offset, limit, true);
}

std::vector<DirtyExtent> DirtyBitmap::extents(uint64_t offset, uint64_t length,
                                              size_t maxExtents) const {
    std::shared_lock lock(impl_->mutex);
    const BitmapStorage& s = impl_->s;
    if (offset > s.diskSize || length > s.diskSize - offset)
        throw BlockError(EINVAL, "dirty bitmap: extents past end of disk: " +
                                     rangeText(offset, length, s.diskSize));
    std::vector<DirtyExtent> out;
    uint64_t end = offset + length;
    for (uint64_t pos = offset; pos < end && out.size() < maxExtents;) {
        bool dirty = s.testGranule(pos >> s.shift);
        uint64_t stop = s.nextMatch(pos, end, dirty).value_or(end);
        out.push_back(DirtyExtent{pos, stop - pos, dirty});
        pos = stop;
    }
    return out;
}

uint64_t DirtyBitmap::dirtyBytes() const {
    std::shared_lock lock(impl_->mutex);
    const BitmapStorage& s = impl_->s;
    uint64_t total = s.count << s.shift;
    if (s.count > 0 && s.testGranule(s.granules - 1)) {
        uint64_t covered = s.granules << s.shift;
        total -= covered - s.diskSize;
    }
    return total;
}

uint64_t DirtyBitmap::dirtyGranules() const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.count;
}

void DirtyBitmap::merge(const DirtyBitmap& other) {
    if (this == &other)
        return;
    // Lock in address order so that a.merge(b) and b.merge(a) cannot deadlock.
    std::unique_lock<std::shared_mutex> mine(impl_->mutex, std::defer_lock);
    std::shared_lock<std::shared_mutex> theirs(other.impl_->mutex, std::defer_lock);
    if (impl_ < other.impl_) {
        mine.lock();
        theirs.lock();
    } else {
        theirs.lock();
        mine.lock();
    }
    BitmapStorage& d = impl_->s;
    const BitmapStorage& o = other.impl_->s;
    if (d.diskSize != o.diskSize)
        throw BlockError(EINVAL, "dirty bitmap: cannot merge bitmaps of different disk sizes (" +
                                     std::to_string(d.diskSize) + " and " +
                                     std::to_string(o.diskSize) + ")");
    if (d.granularity == o.granularity) { // same layout: OR the words
        uint64_t* dst = d.bits();
        const uint64_t* src = o.bits();
        uint64_t n = d.levelWords[0];
        for (uint64_t w = 0; w < n; ++w) {
            uint64_t nv = dst[w] | src[w];
            if (nv != dst[w]) {
                d.count += static_cast<uint64_t>(std::popcount(nv) - std::popcount(dst[w]));
                dst[w] = nv;
            }
        }
        if (n > 0)
            d.refresh(0, n - 1);
        return;
    }
    uint64_t g = 0;
    while (auto first = o.find(g, false)) {
        auto end = o.find(*first, true);
        uint64_t endGranule = end ? *end : o.granules;
        uint64_t from = *first << o.shift;
        uint64_t to = std::min(endGranule << o.shift, o.diskSize);
        d.assign(from >> d.shift, (to - 1) >> d.shift, true);
        if (!end)
            break;
        g = *end;
    }
}

void DirtyBitmap::resize(uint64_t newDiskSize) {
    std::unique_lock lock(impl_->mutex);
    if (newDiskSize != impl_->s.diskSize)
        impl_->resizeLocked(newDiskSize);
}

void DirtyBitmap::growTo(uint64_t minDiskSize) {
    std::unique_lock lock(impl_->mutex);
    if (minDiskSize > impl_->s.diskSize)
        impl_->resizeLocked(minDiskSize);
}

uint64_t DirtyBitmap::memoryBytes() const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.memoryBytes() + sizeof(Impl);
}

uint64_t DirtyBitmap::serializedSize() const {
    std::shared_lock lock(impl_->mutex);
    return impl_->s.serializedSize();
}

void DirtyBitmap::serialize(uint64_t byteOffset, std::span<uint8_t> out) const {
    std::shared_lock lock(impl_->mutex);
    const BitmapStorage& s = impl_->s;
    s.checkSerialRange(byteOffset, out.size(), "serialize");
    if (out.empty())
        return;
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(out.data(), reinterpret_cast<const uint8_t*>(s.bits()) + byteOffset,
                    out.size());
    } else {
        for (size_t i = 0; i < out.size(); ++i) {
            uint64_t b = byteOffset + i;
            out[i] = static_cast<uint8_t>(s.bits()[b / 8] >> (8 * (b % 8)));
        }
    }
}

void DirtyBitmap::deserialize(uint64_t byteOffset, std::span<const uint8_t> in) {
    std::unique_lock lock(impl_->mutex);
    BitmapStorage& s = impl_->s;
    s.checkSerialRange(byteOffset, in.size(), "deserialize");
    if (in.empty())
        return;
    uint64_t w0 = byteOffset / 8;
    uint64_t w1 = (byteOffset + in.size() - 1) / 8;
    uint64_t* b = s.bits();
    prefaultForWrite(b + w0, size_t(w1 - w0 + 1) * 8);
    // Loading a bitmap overwrites clean words: the summary shows that without reading them.
    uint64_t before = s.count != 0 ? s.countWords(w0, w1) : 0;
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(reinterpret_cast<uint8_t*>(b) + byteOffset, in.data(), in.size());
    } else {
        for (size_t i = 0; i < in.size(); ++i) {
            uint64_t pos = byteOffset + i;
            unsigned sh = 8 * (pos % 8);
            b[pos / 8] = (b[pos / 8] & ~(uint64_t{0xff} << sh)) | (uint64_t{in[i]} << sh);
        }
    }
    s.maskTail();
    s.count = s.count - before + countBits(b + w0, size_t(w1 - w0 + 1));
    s.refresh(w0, w1);
}

bool DirtyBitmap::serializedRangeIsZero(uint64_t byteOffset, uint64_t length) const {
    std::shared_lock lock(impl_->mutex);
    const BitmapStorage& s = impl_->s;
    s.checkSerialRange(byteOffset, length, "zero check");
    if (length == 0)
        return true;
    auto g = s.find(byteOffset * 8, false);
    return !g || *g >= (byteOffset + length) * 8;
}

} // namespace e2kvm::block

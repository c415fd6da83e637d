// Qcow2Amend: qemu-img amend for qcow2 images, working on the closed image file: header
// changes, the snapshot table rewritten with full extra data on upgrade, zero clusters turned
// into data (or unallocated) clusters on downgrade, and the refcount structures written anew
// with another entry width. The virtual size is changed through the driver.
#include "Qcow2Amend.h"

#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Image.h"
#include "Qcow2Refcounts.h"
#include "Qcow2SnapshotTable.h"
#include "block/BlockError.h"
#include "block/BlockLog.h"
#include "block/HostFile.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <vector>

namespace e2kvm::block::qcow2 {

namespace {

// The progress of the whole amendment from the progress of its steps (upgrade, refcount
// width change), as QEMU sums them: the steps done so far plus the current one, and for the
// steps still to come as much work each as the steps so far took on average.
class AmendSteps {
public:
    AmendSteps(const Qcow2AmendProgress& sink, int steps) : sink_(sink), steps_(steps) {}

    // Starts the next step.
    void next() {
        if (started_) {
            offsetDone_ += lastSize_;
            ++stepsDone_;
        }
        started_ = true;
        lastSize_ = 0;
    }

    // The current step is at `done` of `size`.
    void report(uint64_t done, uint64_t size) {
        if (!sink_ || steps_ <= 0)
            return;
        lastSize_ = size;
        const uint64_t current = offsetDone_ + size;
        const uint64_t projected =
            current * uint64_t(steps_ - stepsDone_ - 1) / uint64_t(stepsDone_ + 1);
        sink_(offsetDone_ + done, current + projected);
    }

private:
    const Qcow2AmendProgress& sink_;
    int steps_;
    int stepsDone_ = 0;
    bool started_ = false;
    uint64_t offsetDone_ = 0;
    uint64_t lastSize_ = 0;
};

[[noreturn]] void refuse(int err, const std::string& message) {
    throw BlockError(err, message);
}

std::vector<uint64_t> readTable(const HostFile& file, uint64_t offset, uint64_t entries) {
    std::vector<uint8_t> raw(size_t(entries * 8));
    if (!raw.empty())
        file.readExact(offset, raw, "table");
    std::vector<uint64_t> t(static_cast<size_t>(entries));
    for (size_t i = 0; i < t.size(); ++i)
        t[i] = getBe64(&raw[i * 8]);
    return t;
}

void writeHeader(HostFile& file, const Qcow2Header& h) {
    std::vector<uint8_t> buf = serializeHeader(h, file.path());
    uint64_t clusterEnd = std::min<uint64_t>(h.clusterSize(), file.size());
    buf.resize(size_t(std::max<uint64_t>(clusterEnd, buf.size())), 0);
    file.write(0, buf);
    file.sync();
}

std::unique_ptr<Qcow2Refcounts> openRefcounts(HostFile& file, Qcow2Header& h) {
    std::vector<uint64_t> table =
        readTable(file, h.refTableOffset, uint64_t(h.refTableClusters) * h.clusterSize() / 8);
    return std::make_unique<Qcow2Refcounts>(
        file, h.clusterBits, h.refcountOrder, std::move(table), h.refTableOffset,
        h.refTableClusters, [&file, &h](uint64_t offset, uint32_t clusters) {
            h.refTableOffset = offset;
            h.refTableClusters = clusters;
            std::vector<uint8_t> buf = serializeHeader(h, file.path());
            file.write(48, std::span(buf.data() + 48, 12));
        });
}

// v2 -> v3: snapshot entries get the extra data v3 requires, then the header is v3.
void upgrade(HostFile& file, Qcow2Header& h, AmendSteps& steps) {
    steps.report(0, 2);
    const uint64_t cs = h.clusterSize();
    uint64_t tableBytes = 0;
    std::vector<Qcow2SnapshotEntry> snapshots = readSnapshotTable(file, h, h.size, &tableBytes);
    bool update = false;
    for (const Qcow2SnapshotEntry& s : snapshots)
        update = update || s.extraDataSize < 16;
    if (update) {
        std::vector<uint8_t> table = serializeSnapshotTable(snapshots);
        auto rc = openRefcounts(file, h);
        uint64_t clusters = (table.size() + cs - 1) / cs;
        uint64_t offset = rc->allocate(clusters) * cs;
        table.resize(size_t(clusters * cs), 0);
        file.write(offset, table);
        file.sync();
        uint64_t oldOffset = h.snapshotsOffset;
        h.snapshotsOffset = offset;
        h.nbSnapshots = uint32_t(snapshots.size());
        writeHeader(file, h);
        if (oldOffset && tableBytes)
            rc->decrement(oldOffset / cs, (oldOffset % cs + tableBytes + cs - 1) / cs);
        file.sync();
    }
    steps.report(1, 2);
    h.version = 3;
    h.headerLength = kV3HeaderLength;
    h.refcountOrder = 4;
    h.compressionType = 0;
    h.extraHeader.clear();
    writeHeader(file, h);
    steps.report(2, 2);
}

void putRefcount(std::vector<uint8_t>& block, uint64_t index, uint32_t bits, uint64_t value) {
    switch (bits) {
    case 8:
        block[size_t(index)] = uint8_t(value);
        break;
    case 16:
        putBe16(&block[size_t(index * 2)], uint16_t(value));
        break;
    case 32:
        putBe32(&block[size_t(index * 4)], uint32_t(value));
        break;
    case 64:
        putBe64(&block[size_t(index * 8)], value);
        break;
    default: { // 1, 2, 4 bits: least significant bits first
        uint64_t bit = index * bits;
        block[size_t(bit / 8)] = uint8_t(block[size_t(bit / 8)] | (value << (bit % 8)));
    }
    }
}

// The refcount table and blocks written anew with `bits`-bit entries, holding the refcounts
// stored now (not recounted: a wrong refcount stays for `check` to find, as with QEMU). The
// new blocks and table go into the lowest free clusters; the old ones are free afterwards.
void changeRefcountOrder(HostFile& file, Qcow2Header& h, uint32_t bits, AmendSteps& steps) {
    const uint64_t cs = h.clusterSize();
    auto rc = openRefcounts(file, h);
    const std::vector<uint64_t> oldTable = rc->table();
    const uint64_t oldPerBlock = rc->entriesPerBlock();
    uint64_t limit = (file.size() + cs - 1) / cs;
    std::set<uint64_t> oldStructure;
    for (uint64_t c = 0; c < h.refTableClusters; ++c)
        oldStructure.insert(h.refTableOffset / cs + c);
    for (size_t i = 0; i < oldTable.size(); ++i) {
        if (!(oldTable[i] & kRefTableOffsetMask))
            continue;
        limit = std::max<uint64_t>(limit, (i + 1) * oldPerBlock);
        oldStructure.insert((oldTable[i] & kRefTableOffsetMask) / cs);
    }
    std::vector<uint64_t> counts(static_cast<size_t>(limit), 0);
    for (size_t i = 0; i < oldTable.size(); ++i) {
        if (!(oldTable[i] & kRefTableOffsetMask))
            continue;
        for (uint64_t c = i * oldPerBlock; c < (i + 1) * oldPerBlock; ++c)
            counts[size_t(c)] = rc->get(c);
    }
    const uint64_t newMax = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
    for (size_t c = 0; c < counts.size(); ++c) {
        if (counts[c] > newMax) {
            char offset[32];
            std::snprintf(offset, sizeof offset, "%#" PRIx64, uint64_t(c) * cs);
            refuse(EINVAL, "Cannot decrease refcount entry width to " + std::to_string(bits) +
                               " bits: Cluster at offset " + offset + " has a refcount of " +
                               std::to_string(counts[c]));
        }
    }
    rc.reset();

    const uint64_t perBlock = cs * 8 / bits;
    auto firstFreeRun = [&](uint64_t n) {
        uint64_t start = 0;
        for (uint64_t c = 0;; ++c) {
            if (c < counts.size() && counts[size_t(c)] != 0)
                start = c + 1;
            else if (c + 1 - start == n)
                return start;
        }
    };
    auto mark = [&](uint64_t first, uint64_t n, uint64_t value) {
        if (first + n > counts.size())
            counts.resize(size_t(first + n), 0);
        for (uint64_t c = first; c < first + n; ++c)
            counts[size_t(c)] = value;
    };
    std::map<uint64_t, uint64_t> blocks; // block index -> cluster
    uint64_t tableStart = 0, tableClusters = 0;
    // Progress in QEMU's units: one per old refcount table entry and walk over the refcounts.
    // QEMU walks until a walk allocates no new refcount block, reallocating the new table
    // after each walk that did, and then once more to write the blocks: three walks at least.
    const uint64_t walkSize = oldTable.size();
    auto reportWalk = [&](uint64_t walk, uint64_t walks) {
        for (uint64_t i = 0; i <= walkSize; ++i)
            steps.report(walk * walkSize + i, walks * walkSize);
    };
    uint64_t walk = 0;
    for (bool allocated = true; allocated; ++walk) {
        reportWalk(walk, std::max<uint64_t>(walk + 2, 3));
        // A block for every block index that counts something (the new blocks included).
        allocated = false;
        for (uint64_t c = 0; c < counts.size(); ++c) {
            if (!counts[size_t(c)] || blocks.count(c / perBlock))
                continue;
            uint64_t at = firstFreeRun(1);
            mark(at, 1, 1);
            blocks[c / perBlock] = at;
            allocated = true;
        }
        if (allocated) {
            uint64_t entries = blocks.rbegin()->first + 1;
            uint64_t need = (entries * 8 + cs - 1) / cs;
            if (tableClusters)
                mark(tableStart, tableClusters, 0);
            tableClusters = need;
            tableStart = firstFreeRun(need);
            mark(tableStart, need, 1);
        }
    }
    reportWalk(walk, walk + 1);
    if (tableClusters * cs > kMaxRefTableBytes)
        refuse(EFBIG, "Refcount table too large");

    std::vector<uint64_t> table(static_cast<size_t>(tableClusters * cs / 8), 0);
    for (const auto& [index, cluster] : blocks) {
        std::vector<uint8_t> block(static_cast<size_t>(cs), 0);
        for (uint64_t i = 0; i < perBlock; ++i) {
            uint64_t c = index * perBlock + i;
            if (c >= counts.size())
                break;
            uint64_t v = oldStructure.count(c) ? 0 : counts[size_t(c)];
            if (v)
                putRefcount(block, i, bits, v);
        }
        file.write(cluster * cs, block);
        table[size_t(index)] = cluster * cs;
    }
    std::vector<uint8_t> raw(table.size() * 8);
    for (size_t i = 0; i < table.size(); ++i)
        putBe64(&raw[i * 8], table[i]);
    file.write(tableStart * cs, raw);
    file.sync();
    h.refTableOffset = tableStart * cs;
    h.refTableClusters = uint32_t(tableClusters);
    uint32_t order = 0;
    while ((1u << order) < bits)
        ++order;
    h.refcountOrder = order;
    writeHeader(file, h);
}

// Zero clusters of every L2 table (active and snapshots') become data clusters holding zeros,
// or unallocated ones when no backing file could show through.
void expandZeroClusters(HostFile& file, Qcow2Header& h, AmendSteps& steps) {
    const uint64_t cs = h.clusterSize();
    const bool backing = !h.backingFile.empty();
    auto rc = openRefcounts(file, h);
    std::vector<std::pair<uint64_t, uint32_t>> l1s{{h.l1Offset, h.l1Size}};
    for (const Qcow2SnapshotEntry& s : readSnapshotTable(file, h, h.size))
        l1s.emplace_back(s.l1Offset, s.l1Size);
    // Progress counts every table's entries; an invalid one stops the walk when reached.
    for (auto& l1 : l1s)
        if (uint64_t(l1.second) > kMaxL1Bytes / 8)
            l1.second = 0;
    std::set<uint64_t> done;
    std::vector<uint8_t> zeros(static_cast<size_t>(cs), 0);
    // Progress as QEMU counts it: one unit per L1 entry, of the active table and snapshots'.
    uint64_t entries = 0, visited = 0;
    for (const auto& l1 : l1s)
        entries += l1.second;
    // As QEMU: a misplaced table or cluster marks the image corrupt and stops the expansion.
    auto corrupt = [&](const std::string& what) {
        Qcow2Header stored = readHeader(file);
        if (!(stored.incompatible & kIncompatCorrupt)) {
            logMessage(LogLevel::Corruption, file.path(),
                       "qcow2: Marking image as corrupt: " + what +
                           "; further corruption events will be suppressed");
            stored.incompatible |= kIncompatCorrupt;
            writeHeader(file, stored);
            file.sync();
        }
        refuse(EIO, "Failed to turn zero into data clusters: Input/output error");
    };
    auto hexText = [](uint64_t v) {
        char text[32];
        std::snprintf(text, sizeof text, "%#" PRIx64, v);
        return std::string(text);
    };
    uint64_t l1Index = 0;
    auto expandL2 = [&](uint64_t e) {
        uint64_t l2 = e & kL1OffsetMask;
        if (l2 & (cs - 1))
            corrupt("L2 table offset " + hexText(l2) + " unaligned (L1 index: " + hexText(l1Index) +
                    ")");
        if (!l2 || !done.insert(l2).second)
            return;
        std::vector<uint64_t> t = readTable(file, l2, cs / 8);
        // As QEMU: the COPIED flag and the refcount of a new cluster follow the refcount
        // of the L2 table, not of the data cluster.
        const uint64_t l2Refcount = rc->get(l2 / cs);
        bool changed = false;
        for (uint64_t& entry : t) {
            uint64_t off = entry & kL2OffsetMask;
            switch (clusterType(entry, true)) {
            case ClusterType::ZeroPlain:
                if (!backing) {
                    entry = 0;
                    changed = true;
                    continue;
                }
                off = rc->allocate(1) * cs;
                if (l2Refcount > 1)
                    rc->set(off / cs, l2Refcount);
                break;
            case ClusterType::ZeroAlloc:
                if (off & (cs - 1))
                    corrupt("Cluster allocation offset " + hexText(off) +
                            " unaligned (L2 offset: " + hexText(l2) +
                            ", L2 index: " + hexText(uint64_t(&entry - t.data())) + ")");
                break;
            default:
                continue;
            }
            file.write(off, zeros);
            entry = off | (l2Refcount == 1 ? kOflagCopied : 0);
            changed = true;
        }
        if (!changed)
            return;
        std::vector<uint8_t> raw(static_cast<size_t>(cs));
        for (size_t i = 0; i < t.size(); ++i)
            putBe64(&raw[i * 8], t[i]);
        file.sync(); // the zeroed clusters before the entries that point at them
        file.write(l2, raw);
    };
    const std::vector<Qcow2SnapshotEntry> snapshots = readSnapshotTable(file, h, h.size);
    for (size_t n = 0; n < l1s.size(); ++n) {
        const auto& [l1Offset, l1Size] = l1s[n];
        // As QEMU, a snapshot's L1 table is judged when its turn comes (the reason on a line
        // of its own, then the failure).
        if (n > 0) {
            try {
                validateSnapshotL1(snapshots[n - 1], cs);
            } catch (const BlockError& e) {
                refuse(e.errnoValue(),
                       reportedFirst(e.what(), std::string("Failed to turn zero into data "
                                                           "clusters: ") +
                                                   std::strerror(e.errnoValue())));
            }
        }
        l1Index = 0;
        for (uint64_t e : readTable(file, l1Offset, l1Size)) {
            expandL2(e);
            ++l1Index;
            steps.report(++visited, entries);
        }
    }
    file.sync();
}

bool hasCompressedClusters(const HostFile& file, const Qcow2Header& h) {
    for (uint64_t e : readTable(file, h.l1Offset, h.l1Size)) {
        uint64_t l2 = e & kL1OffsetMask;
        if (!l2)
            continue;
        // With extended L2 entries every other word is a subcluster bitmap.
        const std::vector<uint64_t> t = readTable(file, l2, h.clusterSize() / 8);
        for (size_t i = 0; i < t.size(); i += h.l2EntryBytes() / 8)
            if (t[i] & kOflagCompressed)
                return true;
    }
    return false;
}

void downgrade(HostFile& file, Qcow2Header& h, AmendSteps& steps) {
    if (h.refcountOrder != 4)
        refuse(ENOTSUP, "compat=0.10 requires refcount_bits=16");
    if (h.hasDataFile())
        refuse(ENOTSUP, "Cannot downgrade an image with a data file");
    for (const Qcow2SnapshotEntry& s : readSnapshotTable(file, h, h.size))
        if (s.vmStateSize > UINT32_MAX || s.diskSize != h.size)
            refuse(ENOTSUP, "Internal snapshots prevent downgrade of image");
    uint64_t others = h.incompatible & ~kIncompatCompression;
    if (others) {
        char bits[32];
        std::snprintf(bits, sizeof bits, "0x%" PRIx64, others);
        refuse(ENOTSUP, std::string("Cannot downgrade an image with incompatible features ") +
                            bits + " set");
    }
    h.compatible = 0;
    h.autoclear = 0;
    expandZeroClusters(file, h, steps);
    if (h.incompatible & kIncompatCompression) {
        if (hasCompressedClusters(file, h))
            refuse(ENOTSUP, "Cannot downgrade an image with zstd compression type and "
                            "existing compressed clusters");
        h.incompatible &= ~kIncompatCompression;
        h.compressionType = 0;
    }
    h.version = 2;
    writeHeader(file, h);
}

} // namespace

void amendQcow2(const std::string& path, const Qcow2AmendRequest& req,
                const Qcow2AmendProgress& progress) {
    HostFile file(path, HostFile::Mode::ReadWrite);
    Qcow2Header h = readHeader(file);
    const int oldVersion = int(h.version);
    const int newVersion = req.version.value_or(oldVersion);
    const uint32_t bits = req.refcountBits.value_or(h.refcountBits());
    if (req.dataFile && !h.hasDataFile())
        refuse(EINVAL, "data-file can only be set for images that use an external data file");
    const bool dataFileRaw = req.dataFileRaw.value_or(h.dataFileRaw());
    if (req.dataFileRaw && *req.dataFileRaw && !h.dataFileRaw())
        refuse(EINVAL, "data-file-raw cannot be set on existing images");

    AmendSteps steps(progress,
                     (newVersion != oldVersion ? 1 : 0) + (bits != h.refcountBits() ? 1 : 0));
    if (newVersion > oldVersion) {
        steps.next();
        upgrade(file, h, steps);
    }
    if (bits != h.refcountBits()) {
        steps.next();
        if (newVersion < 3 && bits != 16)
            refuse(EINVAL, "Refcount widths other than 16 bits require compatibility level 1.1 "
                           "or above (use compat=1.1 or greater)");
        changeRefcountOrder(file, h, bits, steps);
    }
    if (dataFileRaw)
        h.autoclear |= kAutoclearDataFileRaw;
    else
        h.autoclear &= ~kAutoclearDataFileRaw;
    if (req.dataFile) {
        if (req.dataFile->empty())
            h.dataFile.reset();
        else
            h.dataFile = *req.dataFile;
    }
    writeHeader(file, h);

    if (req.backingFile || req.backingFormat) {
        auto stored = [](const std::string& s) {
            return s.empty() ? std::optional<std::string>() : std::optional<std::string>(s);
        };
        if (req.backingFile != stored(h.backingFile) ||
            req.backingFormat != stored(h.backingFormat))
            refuse(EINVAL, "Cannot amend the backing file");
    }

    const bool lazy = (h.compatible & kCompatLazyRefcounts) != 0;
    if (req.lazyRefcounts && *req.lazyRefcounts != lazy) {
        if (*req.lazyRefcounts && newVersion < 3)
            refuse(EINVAL, "Lazy refcounts only supported with compatibility level 1.1 and "
                           "above (use compat=1.1 or greater)");
        if (*req.lazyRefcounts)
            h.compatible |= kCompatLazyRefcounts;
        else
            h.compatible &= ~kCompatLazyRefcounts;
        writeHeader(file, h);
    }

    if (req.size && *req.size) {
        // v2 did not require the disk size in snapshot entries: QEMU refuses any resize then.
        if (h.nbSnapshots && h.version < 3)
            refuse(ENOTSUP, "Can't resize a v2 image which has snapshots");
        OpenOptions o;
        o.format = "qcow2";
        o.readOnly = false;
        o.openBacking = false;
        o.locking = false; // the caller holds the locks
        auto image = Qcow2Image::open(path, o);
        image->truncate(*req.size);
        image->flush();
        image.reset();
        h = readHeader(file);
    }

    if (newVersion < int(h.version)) {
        steps.next();
        downgrade(file, h, steps);
    }
}

} // namespace e2kvm::block::qcow2

#include "Qcow2Driver.h"
#include "Qcow2Overlap.h"
#include "Qcow2RuntimeOptions.h"

#include "Qcow2Bitmaps.h"
#include "Qcow2CacheFlushError.h"
#include "Qcow2Check.h"
#include "Qcow2Compression.h"
#include "Qcow2Format.h"
#include "block/BlockLog.h"
#include "block/ChainStatus.h"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace e2kvm::block::qcow2 {

namespace {

std::string hex(uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%" PRIx64, v);
    return b;
}

std::string realPath(const std::string& p) {
    char* r = ::realpath(p.c_str(), nullptr);
    if (!r)
        return p;
    std::string s(r);
    std::free(r);
    return s;
}

const std::vector<uint8_t>& zeroChunk() {
    static const std::vector<uint8_t> z(1 << 20, 0);
    return z;
}

// Writes zeros to [from, to) of `f`.
void writeZeros(HostFile& f, uint64_t from, uint64_t to) {
    for (uint64_t p = from; p < to;) {
        const uint64_t k = std::min<uint64_t>(to - p, zeroChunk().size());
        f.write(p, std::span(zeroChunk().data(), size_t(k)));
        p += k;
    }
}

} // namespace

Qcow2Driver::Qcow2Driver(const std::string& path, const OpenOptions& o)
    : BlockDriver(path, o.readOnly),
      file_(path, o.readOnly ? HostFile::Mode::ReadOnly : HostFile::Mode::ReadWrite, o.fileNode),
      h_((file_.lock(imageLocks(o, true)), file_.setBlkdebug(o.blkdebug), readHeader(file_))),
      overlapChecks_(kOverlapCached), l2Cache_(4) {
    if (o.chain.count(realPath(path)))
        throwError(ELOOP, path,
                   "Backing file loop detected: this image is already part of the chain");
    // As QEMU, only check opens such an image (to rebuild the refcounts).
    if (h_.refTableClusters == 0)
        throwError(EINVAL, path, "Image does not contain a reference count table");
    if (!o.readOnly) {
        if (h_.incompatible & kIncompatCorrupt)
            throwError(EACCES, path, "qcow2: Image is corrupt; cannot be opened read/write");
        if (h_.incompatible & kIncompatDirty) {
            // Lazy refcounts were in use and the image was not closed cleanly: repaired as
            // QEMU repairs it, its findings printed as they come.
            CheckResult r = checkQcow2(file_, RepairMode::All);
            for (std::string& line : r.messages) {
                if (!line.empty() && line[0] == CheckResult::kProgramNamePrefix)
                    line.erase(0, 1);
                logMessage(LogLevel::Corruption, path, line);
            }
            if (r.abortErrno || r.checkErrors)
                throwError(r.abortErrno ? r.abortErrno : EIO, path,
                           std::string("Could not repair dirty image: ") +
                               std::strerror(r.abortErrno ? r.abortErrno : EIO));
            h_ = readHeader(file_);
        }
    }
    cs_ = h_.clusterSize();
    cb_ = h_.clusterBits;
    l2Entries_ = h_.l2Entries();
    ext_ = h_.extendedL2();
    scBits_ = ext_ ? cb_ - 5 : cb_;
    size_ = h_.size;
    external_ = h_.hasDataFile();
    externalRaw_ = external_ && h_.dataFileRaw();
    if (external_ && !o.readOnly && h_.nbSnapshots)
        throwError(ENOTSUP, path,
                   "internal snapshots are not supported on an image with an external data "
                   "file; open it read-only");
    openDataFile(o);
    l2Cache_ = Qcow2L2Cache(size_t(std::max<uint64_t>(16, (32ull << 20) / cs_)));

    std::vector<uint8_t> raw(size_t(h_.l1Size) * 8);
    if (!raw.empty())
        file_.readExact(h_.l1Offset, raw, "L1 table");
    l1_.resize(h_.l1Size);
    for (size_t i = 0; i < l1_.size(); ++i)
        l1_[i] = getBe64(&raw[i * 8]);

    raw.assign(size_t(h_.refTableClusters * cs_), 0);
    file_.debugEvent(BlkdebugEvent::ReftableLoad);
    if (!raw.empty())
        file_.readExact(h_.refTableOffset, raw, "refcount table");
    std::vector<uint64_t> reftable(raw.size() / 8);
    for (size_t i = 0; i < reftable.size(); ++i)
        reftable[i] = getBe64(&raw[i * 8]);
    snapshots_ = readSnapshotTable(file_, h_, h_.size, &snapshotTableBytes_);
    rc_ = std::make_unique<Qcow2Refcounts>(file_, cb_, h_.refcountOrder, std::move(reftable),
                                           h_.refTableOffset, h_.refTableClusters,
                                           [this](uint64_t off, uint32_t n) {
                                               h_.refTableOffset = off;
                                               h_.refTableClusters = n;
                                               writeHeaderFields(48, 60);
                                           });
    rc_->setPlacementCheck([this](uint64_t offset, uint64_t bytes, const char* what) {
        checkMetadataPlacement(offset, bytes, what);
    });
    rc_->setWriteCheck([this](uint64_t offset, uint64_t bytes) {
        checkNoMetadataOverlap(offset, bytes, kMetaRefcountBlock);
    });
    rc_->setCorruptionReport([this](const std::string& what) { signalCorruption(true, what); });
    if (!o.readOnly) {
        bool rewrite = false;
        // Autoclear features we do not keep consistent must be cleared (Qcow2Bitmaps keeps
        // the bitmaps one; zero writes and discards keep a raw data file raw).
        const uint64_t kept = kAutoclearBitmaps | (external_ ? kAutoclearDataFileRaw : 0);
        if (h_.autoclear & ~kept) {
            h_.autoclear &= kept;
            rewrite = true;
        }
        if (h_.incompatible & kIncompatDirty) {
            h_.incompatible &= ~kIncompatDirty;
            rewrite = true;
        }
        if (rewrite) {
            writeHeader();
            file_.sync();
        }
        if (h_.compatible & kCompatLazyRefcounts)
            useLazyRefcounts(true);
    }
    Qcow2Bitmaps::Access access{file_, h_, *rc_, [this] { writeHeader(); },
                                [this](const std::function<void()>& f) {
                                    std::unique_lock gate(gate_);
                                    std::lock_guard lock(meta_);
                                    f();
                                }};
    bitmaps_ = std::make_unique<Qcow2Bitmaps>(*this, std::move(access), !o.readOnly);
    openBacking(o);
}

// Like RawImage, closing does not sync: callers that need durability call flush(). Persistent
// bitmaps are saved (that syncs); if that fails they stay marked in use (inconsistent).
Qcow2Driver::~Qcow2Driver() {
    // Marked corrupt: nothing more is written (QEMU's driver is detached then); bitmaps that
    // were in use stay so, i.e. inconsistent.
    if (detached_)
        return;
    if (!readOnly()) {
        try {
            std::lock_guard lock(meta_);
            if (l2Cache_.dirtyCount() || !l1Dirty_.empty() || !releases_.empty()) {
                try {
                    barrier();
                } catch (const BlockError&) {
                    // As QEMU's close, the metadata is written even when the data file could
                    // not be flushed (its failure was the flush's): acknowledged writes stay.
                    if (!dataSyncFailed_)
                        throw;
                    barrier(false);
                }
            }
            useLazyRefcounts(false); // what the bitmaps allocate below is written at once
        } catch (const BlkdebugInjectedError&) {
            // Failing here is what the injector was set up for; the user of the image has
            // reported its failed flush already.
        } catch (const std::exception& e) {
            logMessage(LogLevel::Warning, filename(),
                       std::string("could not write cached metadata: ") + e.what());
        }
    }
    if (!bitmaps_)
        return;
    try {
        bitmaps_->save(true);
    } catch (const std::exception& e) {
        logMessage(LogLevel::Warning, filename(),
                   std::string("could not save dirty bitmaps: ") + e.what());
    }
}

void Qcow2Driver::openDataFile(const OpenOptions& o) {
    const HostFile::Mode mode = o.readOnly ? HostFile::Mode::ReadOnly : HostFile::Mode::ReadWrite;
    if (!external_) {
        if (!o.dataFileName && !o.dataFileNode)
            return;
        // As QEMU, the node the user names is opened before it is found to have no use.
        if (o.dataFileName) {
            try {
                HostFile(*o.dataFileName, HostFile::Mode::ReadOnly);
            } catch (const BlockError& e) {
                throw BlockError(e.errnoValue(), "Could not open '" + *o.dataFileName +
                                                     "': " + std::strerror(e.errnoValue()));
            }
        }
        throw BlockError(EINVAL,
                         "'data-file' can only be set for images with an external data file");
    }
    if (o.dataFileNode) {
        // A node the user opened: it is the data file whatever the image names, and it holds
        // its own file's locks.
        dataFilePath_ = o.dataFileNode->filename();
        dataFile_ = std::make_unique<HostFile>(dataFilePath_, mode, o.dataFileNode);
        return;
    }
    if (!o.dataFileName && !h_.dataFile)
        throwError(EINVAL, filename(), "'data-file' is required for this image");
    // The name is used as it is given or recorded, relative to the working directory as in
    // QEMU (which opens the recorded name as a file node of its own). A recorded relative name
    // that is not there but is beside the image (as e2kvm-img created them before) is that.
    dataFilePath_ = o.dataFileName ? *o.dataFileName : *h_.dataFile;
    if (!o.dataFileName && !dataFilePath_.empty() && dataFilePath_[0] != '/' &&
        ::access(dataFilePath_.c_str(), F_OK) != 0) {
        const std::string besideImage = resolveBackingPath(filename(), dataFilePath_);
        if (::access(besideImage.c_str(), F_OK) == 0)
            dataFilePath_ = besideImage;
    }
    if (!o.openDataFile)
        return;
    try {
        dataFile_ = std::make_unique<HostFile>(dataFilePath_, mode);
    } catch (const BlockError& e) {
        // As QEMU words the failure of the file node it opens.
        throw BlockError(e.errnoValue(), "Could not open '" + dataFilePath_ +
                                             "': " + std::strerror(e.errnoValue()));
    }
    dataFile_->lock(imageLocks(o, false));
}

HostFile& Qcow2Driver::data() {
    if (!external_)
        return file_;
    if (!dataFile_)
        throwError(EIO, filename(), "the external data file '" + dataFilePath_ + "' is not open");
    return *dataFile_;
}

std::string Qcow2Driver::dataFilename() const {
    return external_ ? dataFilePath_ : filename();
}

int Qcow2Driver::directReadFd() const {
    // Read-write, a discard could free a data cluster and a write reuse it for another guest
    // offset between a reader's mapping and its read.
    if (!readOnly())
        return -1;
    if (external_)
        return dataFile_ ? dataFile_->fd() : -1;
    return file_.fd();
}

void Qcow2Driver::syncAll(bool syncData) {
    if (dataFile_ && syncData) {
        // A failure names the data file; it is not one of the metadata caches' (which QEMU
        // reports at close), even when an injector on the data file made it.
        try {
            dataFile_->sync();
        } catch (const BlockError& e) {
            dataSyncFailed_ = true;
            throwError(e.errnoValue(), dataFilePath_,
                       std::string("flushing the data file failed: ") +
                           std::strerror(e.errnoValue()));
        }
    }
    file_.sync();
}

BitmapCatalog* Qcow2Driver::bitmaps() {
    return bitmaps_ ? &bitmaps_->catalog() : nullptr;
}

uint64_t Qcow2Driver::size() const {
    return size_.load();
}

void Qcow2Driver::openBacking(const OpenOptions& o) {
    autoBackingFile_ = h_.backingFile;
    if (o.backingNode) { // a node that is already open (QMP blockdev-add "backing": NODE)
        backing_ = o.backingNode;
        if (!h_.backingFile.empty())
            fullBackingPath_ = resolveBackingPath(filename(), h_.backingFile);
        return;
    }
    if (h_.backingFile.empty())
        return;
    fullBackingPath_ = resolveBackingPath(filename(), h_.backingFile);
    if (!o.openBacking)
        return;
    OpenOptions bo;
    bo.format = o.backingFormat.empty() ? h_.backingFormat : o.backingFormat;
    bo.readOnly = true;
    bo.openBacking = true;
    bo.locking = o.locking;
    bo.forceShare = o.forceShare;
    // As QEMU's backing links: a user that lets no one write its image lets no one write or
    // resize the image under it.
    bo.unshare = (o.unshare & kPermWrite) ? (kPermWrite | kPermResize) : 0u;
    bo.metadataOnly = o.metadataOnly;
    bo.chain = o.chain;
    bo.chain.insert(realPath(filename()));
    if (bo.chain.count(realPath(fullBackingPath_)))
        throwError(ELOOP, filename(),
                   "Backing file loop detected: '" + fullBackingPath_ +
                       "' is already part of the backing chain");
    try {
        backing_ = openImage(fullBackingPath_, std::move(bo));
        autoBackingFile_ = backing_->filename(); // what it opened is its own backing
    } catch (const BlockError& e) {
        throwError(e.errnoValue(), filename(),
                   std::string("Could not open backing file: ") + e.what());
    }
}

void Qcow2Driver::describe(ImageDescription& out) const {
    out.backingFilename = h_.backingFile;
    out.fullBackingFilename = fullBackingPath_;
    out.backingFormat = h_.backingFormat;
    out.dirtyFlag = (h_.incompatible & kIncompatDirty) != 0;
    out.snapshots = listSnapshots();
    Qcow2Description q;
    q.compat = h_.version >= 3 ? "1.1" : "0.10";
    q.compressionType = h_.compressionType == 1 ? "zstd" : "zlib";
    q.lazyRefcounts = (h_.compatible & kCompatLazyRefcounts) != 0;
    q.refcountBits = h_.refcountBits();
    q.corrupt = (h_.incompatible & kIncompatCorrupt) != 0;
    q.extendedL2 = (h_.incompatible & kIncompatExtendedL2) != 0;
    q.dataFile = h_.dataFile;
    q.externalDataFile = external_;
    q.dataFileRaw = externalRaw_;
    if (bitmaps_)
        bitmaps_->describe(q.bitmaps);
    out.qcow2 = q;
}

// ---- metadata helpers (meta_ held) ----

void Qcow2Driver::writeHeader() {
    std::vector<uint8_t> buf = serializeHeader(h_, filename());
    uint64_t pad = std::min<uint64_t>(cs_, std::max<uint64_t>(file_.size(), buf.size()));
    buf.resize(size_t(std::max<uint64_t>(pad, buf.size())), 0);
    file_.write(0, buf);
}

void Qcow2Driver::writeHeaderFields(uint64_t from, uint64_t to) {
    std::vector<uint8_t> buf = serializeHeader(h_, filename());
    file_.write(from, std::span(buf.data() + from, size_t(to - from)));
}

void Qcow2Driver::useLazyRefcounts(bool on) {
    if (on == rc_->deferred())
        return;
    if (on) {
        rc_->setDeferred(true, [this] { markDirty(); });
    } else {
        markClean();
        rc_->setDeferred(false);
    }
}

void Qcow2Driver::markDirty() {
    if (h_.incompatible & kIncompatDirty)
        return;
    h_.incompatible |= kIncompatDirty;
    writeHeaderFields(72, 80);
    file_.sync();
}

void Qcow2Driver::markClean() {
    if (rc_)
        rc_->writeDeferred();
    if (!(h_.incompatible & kIncompatDirty))
        return;
    file_.sync(); // the refcounts before the bit that says they may be stale
    h_.incompatible &= ~kIncompatDirty;
    writeHeaderFields(72, 80);
    file_.sync();
}

void Qcow2Driver::replaceL1(uint64_t entries) {
    uint64_t oldOffset = h_.l1Offset, oldClusters = (uint64_t(h_.l1Size) * 8 + cs_ - 1) >> cb_;
    file_.debugEvent(BlkdebugEvent::L1GrowAllocTable);
    uint64_t off = rc_->allocate((entries * 8 + cs_ - 1) >> cb_) << cb_;
    std::vector<uint64_t> nl1(l1_);
    nl1.resize(entries, 0);
    file_.debugEvent(BlkdebugEvent::L1GrowWriteTable);
    writeL1Table(off, nl1);
    file_.sync(); // the new L1 table before the header that points at it
    file_.debugEvent(BlkdebugEvent::L1GrowActivateTable);
    h_.l1Offset = off;
    h_.l1Size = uint32_t(entries);
    writeHeaderFields(24, 48);
    file_.sync(); // the header before the old table is freed
    l1_ = std::move(nl1);
    if (oldClusters && oldOffset)
        rc_->decrement(oldOffset >> cb_, oldClusters);
}

void Qcow2Driver::writeL1Table(uint64_t offset, const std::vector<uint64_t>& l1) {
    std::vector<uint8_t> raw(l1.size() * 8);
    for (size_t i = 0; i < l1.size(); ++i)
        putBe64(&raw[i * 8], l1[i]);
    if (!raw.empty())
        file_.write(offset, raw);
}

void Qcow2Driver::writeL1Entry(uint64_t i) {
    file_.debugEvent(BlkdebugEvent::L1Update);
    uint8_t e[8];
    putBe64(e, l1_[i]);
    file_.write(h_.l1Offset + i * 8, e);
}

void Qcow2Driver::writeL2Span(uint64_t tableOffset, const std::vector<uint64_t>& t, uint64_t first,
                              uint64_t last) {
    const uint64_t step = ext_ ? 16 : 8;
    std::vector<uint8_t> raw(size_t((last - first + 1) * step));
    for (uint64_t i = first; i <= last; ++i) {
        putBe64(&raw[size_t((i - first) * step)], t[i]);
        if (ext_)
            putBe64(&raw[size_t((i - first) * step + 8)], t[l2Entries_ + i]);
    }
    file_.write(tableOffset + first * step, raw);
}

void Qcow2Driver::markL2Dirty(uint64_t tableOffset, const Table& t, uint64_t first, uint64_t last) {
    l2Cache_.markDirty(tableOffset, t, first, last);
    if (l2Cache_.dirtyCount() > l2Cache_.maxTables() / 2)
        barrier();
}

void Qcow2Driver::waitForInflight(std::unique_lock<std::mutex>& lock, uint64_t first,
                                  uint64_t count) {
    inflightDone_.wait(lock, [&] {
        for (auto [s, e] : inflight_)
            if (s < first + count && first < e)
                return false;
        return true;
    });
}

void Qcow2Driver::barrier(bool syncData) {
    if (!l2Cache_.dirtyCount() && l1Dirty_.empty() && releases_.empty()) {
        syncAll(syncData);
        return;
    }
    // Guest data, refcount increments and the initial contents of new L2 tables first.
    syncAll(syncData);
    std::vector<Qcow2L2Cache::Dirty> dirty = l2Cache_.takeDirty();
    std::set<uint64_t> l1 = std::move(l1Dirty_);
    l1Dirty_.clear();
    try {
        for (const auto& d : dirty) {
            file_.debugEvent(BlkdebugEvent::L2Update);
            writeL2Span(d.offset, *d.table, d.first, d.last);
        }
        for (uint64_t i : l1)
            writeL1Entry(i);
        file_.sync();
    } catch (...) {
        for (const auto& d : dirty) // written again at the next barrier
            l2Cache_.markDirty(d.offset, d.table, d.first, d.last);
        l1Dirty_.insert(l1.begin(), l1.end());
        throw;
    }
    applyReleases();
}

// A data cluster past the end of the file means a corrupt L2 entry (data is always written
// before it is linked): reads and writes of it fail (QEMU would read zeros and grow a huge
// sparse file). A file that ends inside its last cluster is tolerated.
void Qcow2Driver::checkInsideFile(uint64_t host, uint64_t length) {
    if (host + length <= knownFileSize_)
        return;
    knownFileSize_ = file_.size();
    if (host + length > ((knownFileSize_ + cs_ - 1) & ~(cs_ - 1)))
        throwError(EIO, filename(),
                   "data cluster at host offset " + hex(host & ~(cs_ - 1)) +
                       " is past end of file (L2 entry corrupted)");
}

void Qcow2Driver::checkEntryOffset(uint64_t hostOffset, uint64_t cluster, ClusterType type,
                                   bool forWrite) {
    if (hostOffset & (cs_ - 1)) {
        char what[160];
        if (type == ClusterType::ZeroAlloc && forWrite)
            std::snprintf(what, sizeof what,
                          "Preallocated zero cluster offset %#" PRIx64
                          " unaligned (guest offset: %#" PRIx64 ")",
                          hostOffset, cluster << cb_);
        else
            std::snprintf(what, sizeof what,
                          "Cluster allocation offset %#" PRIx64 " unaligned (L2 offset: %#" PRIx64
                          ", L2 index: %#" PRIx64 ")",
                          hostOffset, l1_[cluster / l2Entries_] & kL1OffsetMask,
                          cluster % l2Entries_);
        signalCorruption(true, what);
    }
    if (external_ && hostOffset != (cluster << cb_))
        throwError(EIO, filename(),
                   "L2 entry for guest offset " + hex(cluster << cb_) +
                       " points to data file offset " + hex(hostOffset) +
                       "; with an external data file both must be equal (L2 entry corrupted)");
}

Qcow2Driver::Table Qcow2Driver::loadL2(uint64_t offset, uint64_t l1Index) {
    if (Table t = l2Cache_.find(offset))
        return t;
    if (offset & (cs_ - 1)) {
        char what[96];
        std::snprintf(what, sizeof what,
                      "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64 ")", offset,
                      l1Index);
        signalCorruption(true, what);
    }
    std::vector<uint8_t> raw(cs_);
    file_.debugEvent(BlkdebugEvent::L2Load);
    // A table in the file's last, partly written cluster reads as zeros past the end (as
    // QEMU reads it); one that starts past the end is an error.
    if (offset < file_.size())
        file_.read(offset, raw);
    else
        file_.readExact(offset, raw, "L2 table");
    auto t = std::make_shared<std::vector<uint64_t>>(ext_ ? 2 * l2Entries_ : l2Entries_);
    for (uint64_t i = 0; i < l2Entries_; ++i) {
        (*t)[i] = getBe64(&raw[i * (ext_ ? 16 : 8)]);
        if (ext_)
            (*t)[l2Entries_ + i] = getBe64(&raw[i * 16 + 8]);
    }
    l2Cache_.insert(offset, t);
    return t;
}

uint64_t Qcow2Driver::l2Entry(uint64_t cluster) {
    uint64_t l1i = cluster / l2Entries_;
    if (l1i >= l1_.size())
        return 0;
    uint64_t off = l1_[l1i] & kL1OffsetMask;
    if (!off)
        return 0;
    return (*loadL2(off, l1i))[cluster % l2Entries_];
}

Qcow2Driver::Run Qcow2Driver::mapRun(uint64_t cluster, uint64_t maxClusters, bool forWrite) {
    Run r;
    r.entry = l2Entry(cluster);
    r.type = h_.typeOf(r.entry);
    r.copied = (r.entry & kOflagCopied) != 0;
    r.clusters = 1;
    const bool hasOffset = r.type == ClusterType::Normal || r.type == ClusterType::ZeroAlloc;
    if (hasOffset)
        checkEntryOffset(r.entry & kL2OffsetMask, cluster, r.type, forWrite);
    if (r.type == ClusterType::Compressed) {
        if (external_)
            throwError(EIO, filename(),
                       "compressed cluster at guest offset " + hex(cluster << cb_) +
                           " in an image with an external data file (L2 entry corrupted)");
        return r;
    }
    uint64_t c = cluster + 1;
    while (r.clusters < maxClusters) {
        uint64_t l1i = c / l2Entries_;
        Table t;
        if (l1i < l1_.size() && (l1_[l1i] & kL1OffsetMask))
            t = loadL2(l1_[l1i] & kL1OffsetMask, l1i);
        uint64_t idx = c % l2Entries_;
        uint64_t stop = std::min(l2Entries_, idx + (maxClusters - r.clusters));
        for (; idx < stop; ++idx, ++c) {
            uint64_t e = t ? (*t)[idx] : 0;
            if (h_.typeOf(e) != r.type)
                return r;
            if (hasOffset) {
                if ((e & kL2OffsetMask) != (r.entry & kL2OffsetMask) + (r.clusters << cb_))
                    return r;
                if (forWrite && ((e & kOflagCopied) != 0) != r.copied)
                    return r;
            }
            ++r.clusters;
        }
    }
    return r;
}

Qcow2Driver::Table Qcow2Driver::writableL2(uint64_t l1i, uint64_t* tableOffset) {
    if (l1i >= l1_.size())
        throwError(EIO, filename(), "guest offset beyond the L1 table");
    uint64_t e = l1_[l1i];
    uint64_t old = e & kL1OffsetMask;
    if (old && (e & kOflagCopied)) {
        *tableOffset = old;
        return loadL2(old, l1i);
    }
    Table src = old ? loadL2(old, l1i) : nullptr;
    uint64_t n = rc_->allocate(1, "L2 table") << cb_;
    checkMetadataPlacement(n, cs_, "L2 table");
    // As QEMU: lazy refcounts hold back only the counts of data clusters; a new table's is
    // written before the table.
    rc_->writeDeferred();
    auto t = std::make_shared<std::vector<uint64_t>>(ext_ ? 2 * l2Entries_ : l2Entries_, 0);
    if (src) {
        file_.debugEvent(BlkdebugEvent::L2AllocCowRead);
        *t = *src;
    }
    file_.debugEvent(BlkdebugEvent::L2AllocWrite);
    // The new table's first contents go out now (the barrier's first sync covers them); the
    // L1 entry that points at it waits for the barrier.
    writeL2Span(n, *t, 0, l2Entries_ - 1);
    l2Cache_.insert(n, t);
    l1_[l1i] = n | kOflagCopied;
    l1Dirty_.insert(l1i);
    if (old) // normally a snapshot still holds the old table
        deferRelease(old >> cb_, 1, false, true);
    *tableOffset = n;
    return t;
}

void Qcow2Driver::readBacking(uint64_t offset, std::span<uint8_t> buf) {
    uint64_t n = 0;
    if (backing_) {
        uint64_t bsz = backing_->size();
        if (offset < bsz)
            n = std::min<uint64_t>(buf.size(), bsz - offset);
        if (n) {
            file_.debugEvent(BlkdebugEvent::ReadBackingAio);
            backing_->read(offset, buf.first(size_t(n)));
        }
    }
    std::memset(buf.data() + n, 0, buf.size() - size_t(n));
}

void Qcow2Driver::readCompressed(uint64_t entry, std::span<uint8_t> cluster) {
    CompressedExtent x = compressedExtent(entry, cb_);
    std::vector<uint8_t> in(size_t(x.size));
    file_.debugEvent(BlkdebugEvent::ReadCompressed);
    file_.read(x.offset, in);
    if (!inflateCluster(compressionType(), in, cluster))
        throwError(EIO, filename(),
                   "compressed cluster at host offset " + hex(x.offset) + " is corrupt");
}

void Qcow2Driver::readOldCluster(uint64_t entry, uint64_t cluster, std::span<uint8_t> out) {
    switch (h_.typeOf(entry)) {
    case ClusterType::Unallocated:
        readBacking(cluster << cb_, out);
        break;
    case ClusterType::ZeroPlain:
    case ClusterType::ZeroAlloc:
        std::memset(out.data(), 0, out.size());
        break;
    case ClusterType::Normal:
        data().read(entry & kL2OffsetMask, out);
        break;
    case ClusterType::Compressed:
        readCompressed(entry, out);
        break;
    }
}

void Qcow2Driver::deferRelease(uint64_t entry, bool punch) {
    if (external_)
        return; // data clusters in an external data file have no refcounts
    switch (h_.typeOf(entry)) {
    case ClusterType::Normal:
    case ClusterType::ZeroAlloc:
        if (entry & kL2OffsetMask & (cs_ - 1)) {
            // As QEMU: reported, and the cluster it would round to is left alone.
            char what[64];
            std::snprintf(what, sizeof what, "Cannot free unaligned cluster %#" PRIx64,
                          entry & kL2OffsetMask);
            reportCorruption(false, what);
            break;
        }
        deferRelease((entry & kL2OffsetMask) >> cb_, 1, punch, false);
        break;
    case ClusterType::Compressed: {
        CompressedExtent x = compressedExtent(entry, cb_);
        uint64_t first = (x.offset & ~uint64_t(511)) >> cb_;
        uint64_t last = (x.offset + x.size - 1) >> cb_;
        deferRelease(first, last - first + 1, punch, false);
        break;
    }
    default:
        break;
    }
}

// A refcount that dropped (to zero) before the L2 or L1 entry that no longer points at the
// cluster is durable would leave, after a power cut, an entry pointing at a free cluster (or
// one handed out again). So the drops wait for the barrier that writes those entries.
void Qcow2Driver::deferRelease(uint64_t first, uint64_t count, bool punch, bool l2Table) {
    if (!refcountBlocksLoadable(first, count))
        return;
    if (!releases_.empty()) {
        Release& b = releases_.back();
        if (b.first + b.count == first && b.punch == punch && b.l2Table == l2Table) {
            b.count += count;
            return;
        }
    }
    releases_.push_back({first, count, punch, l2Table});
    if (releases_.size() >= 4096)
        barrier();
}

// QEMU drops the refcounts at once (in its refcount block cache): a block that cannot be
// loaded (an unaligned one is a fatal corruption) fails that freeing right away, which is
// reported and leaves the clusters leaked, while the request goes on.
bool Qcow2Driver::refcountBlocksLoadable(uint64_t first, uint64_t count) {
    const uint64_t perBlock = rc_->entriesPerBlock();
    try {
        for (uint64_t c = first; c < first + count; c = (c / perBlock + 1) * perBlock)
            rc_->get(c);
    } catch (const BlockError& e) {
        logMessage(LogLevel::Leak, filename(),
                   std::string("qcow2_free_clusters failed: ") + std::strerror(e.errnoValue()));
        return false;
    }
    return true;
}

void Qcow2Driver::applyReleases() {
    std::vector<Release> list = std::move(releases_);
    releases_.clear();
    std::vector<uint64_t> freed;
    for (const Release& r : list) {
        rc_->decrement(r.first, r.count, &freed);
        if (r.l2Table)
            for (uint64_t c : freed)
                l2Cache_.erase(c << cb_);
        if (r.punch)
            punchFreed(freed);
        freed.clear();
    }
}

void Qcow2Driver::punchFreed(HostFile& f, std::vector<uint64_t>& freed) {
    std::sort(freed.begin(), freed.end());
    for (size_t i = 0; i < freed.size();) {
        size_t j = i + 1;
        while (j < freed.size() && freed[j] == freed[j - 1] + 1)
            ++j;
        f.punchHole(freed[i] << cb_, uint64_t(j - i) << cb_);
        i = j;
    }
    freed.clear();
}

// ---- read ----

void Qcow2Driver::doRead(uint64_t offset, std::span<uint8_t> buf) {
    checkAttached();
    std::shared_lock gate(gate_);
    if (ext_)
        return extRead(offset, buf);
    std::vector<uint8_t> cbuf;
    size_t done = 0;
    while (done < buf.size()) {
        uint64_t pos = offset + done;
        uint64_t c = pos >> cb_, in = pos & (cs_ - 1);
        uint64_t remaining = buf.size() - done;
        Run r;
        {
            std::lock_guard lock(meta_);
            r = mapRun(c, (in + remaining + cs_ - 1) >> cb_, false);
            if (r.type == ClusterType::Normal && !external_)
                checkInsideFile((r.entry & kL2OffsetMask) + in,
                                std::min((r.clusters << cb_) - in, remaining));
        }
        uint64_t n = std::min((r.clusters << cb_) - in, remaining);
        auto out = buf.subspan(done, size_t(n));
        switch (r.type) {
        case ClusterType::Unallocated:
            readBacking(pos, out);
            break;
        case ClusterType::ZeroPlain:
        case ClusterType::ZeroAlloc:
            std::memset(out.data(), 0, out.size());
            break;
        case ClusterType::Normal:
            file_.debugEvent(BlkdebugEvent::ReadAio);
            data().read((r.entry & kL2OffsetMask) + in, out);
            break;
        case ClusterType::Compressed:
            cbuf.resize(cs_);
            readCompressed(r.entry, cbuf);
            std::memcpy(out.data(), cbuf.data() + in, out.size());
            break;
        }
        done += size_t(n);
    }
}

// ---- write ----

void Qcow2Driver::doWrite(uint64_t offset, std::span<const uint8_t> buf, unsigned writeFlags) {
    checkAttached();
    data(); // an external data file that is not open fails here, before any L2 change
    {
        std::shared_lock gate(gate_);
        writeImpl(offset, buf);
    }
    if (writeFlags & WriteFua)
        doFlush();
}

void Qcow2Driver::writeImpl(uint64_t offset, std::span<const uint8_t> buf) {
    if (ext_)
        return extWrite(offset, buf);
    size_t done = 0;
    uint64_t chain = 0; // host offset right after the previous piece
    while (done < buf.size()) {
        uint64_t pos = offset + done;
        uint64_t c = pos >> cb_, in = pos & (cs_ - 1);
        uint64_t remaining = buf.size() - done;
        const uint64_t maxClusters = (in + remaining + cs_ - 1) >> cb_;
        std::unique_lock lock(meta_);
        waitForInflight(lock, c, maxClusters);
        Run r = mapRun(c, maxClusters, true);
        if (uint64_t n = writeInPlace(lock, r, c, in, buf.subspan(done), &chain)) {
            done += size_t(n);
            continue;
        }
        uint64_t clusters = std::min(r.clusters, l2Entries_ - c % l2Entries_);
        uint64_t n = std::min((clusters << cb_) - in, remaining);
        done += allocatingWrite(lock, c, (in + n + cs_ - 1) >> cb_, in,
                                buf.subspan(done, size_t(n)), &chain);
    }
}

// With meta_ held (released on return). As QEMU, a write over clusters of ours that follow
// each other on the host is one request in place, preallocated zero clusters among them
// included (the parts of those the write does not cover written as zeros in the same request;
// their zero flag goes afterwards). Returns the bytes written, 0 when the run at `c` is not
// such a run (or holds no normal cluster: allocatingWrite reuses zero clusters alone).
uint64_t Qcow2Driver::writeInPlace(std::unique_lock<std::mutex>& lock, const Run& r, uint64_t c,
                                   uint64_t in, std::span<const uint8_t> buf, uint64_t* chain) {
    if ((r.type != ClusterType::Normal && r.type != ClusterType::ZeroAlloc) || !r.copied)
        return 0;
    const uint64_t base = r.entry & kL2OffsetMask;
    const uint64_t touched = (in + buf.size() + cs_ - 1) >> cb_;
    const uint64_t tableEnd = (c / l2Entries_ + 1) * l2Entries_;
    uint64_t clusters = 0;
    std::vector<uint64_t> zeroed; // indexes into the run
    while (clusters < touched && c + clusters < tableEnd) {
        const uint64_t e = clusters == 0 ? r.entry : l2Entry(c + clusters);
        const ClusterType type = h_.typeOf(e);
        if ((type != ClusterType::Normal && type != ClusterType::ZeroAlloc) ||
            !(e & kOflagCopied) || (e & kL2OffsetMask) != base + (clusters << cb_))
            break;
        if (clusters)
            checkEntryOffset(e & kL2OffsetMask, c + clusters, type, true);
        if (type == ClusterType::ZeroAlloc)
            zeroed.push_back(clusters);
        ++clusters;
    }
    if (zeroed.size() == clusters)
        return 0;
    const uint64_t n = std::min((clusters << cb_) - in, uint64_t(buf.size()));
    // Zeros before the data in a zero cluster at the start, after it in one at the end.
    const uint64_t head = !zeroed.empty() && zeroed.front() == 0 ? in : 0;
    const uint64_t end = in + n;
    const uint64_t tail = !zeroed.empty() && zeroed.back() == clusters - 1 && (end & (cs_ - 1))
                              ? cs_ - (end & (cs_ - 1))
                              : 0;
    const uint64_t host = base + in - head;
    if (!external_) {
        checkNoMetadataOverlap(host, head + n + tail);
        // A node as the file (a raw window of fixed size) answers a write past its end itself
        // (ENOSPC), as in QEMU, where a job's on-target-error=enospc then pauses it.
        if (!file_.isNode())
            checkInsideFile(host, head + n + tail);
    }
    if (!zeroed.empty())
        inflight_.emplace_back(c, c + clusters);
    auto finish = [&] {
        std::erase(inflight_, std::pair<uint64_t, uint64_t>(c, c + clusters));
        inflightDone_.notify_all();
    };
    lock.unlock();
    try {
        file_.debugEvent(BlkdebugEvent::WriteAio);
        if (head || tail) {
            std::vector<uint8_t> whole(size_t(head + n + tail), 0);
            std::memcpy(whole.data() + head, buf.data(), size_t(n));
            data().write(host, whole);
        } else {
            data().write(host, buf.first(size_t(n)));
        }
    } catch (...) {
        if (!zeroed.empty()) {
            lock.lock();
            finish();
        }
        throw;
    }
    if (!zeroed.empty()) {
        lock.lock();
        uint64_t tableOffset = 0;
        Table t = writableL2(c / l2Entries_, &tableOffset);
        const uint64_t i0 = c % l2Entries_;
        for (uint64_t i : zeroed)
            (*t)[i0 + i] = (base + (i << cb_)) | kOflagCopied;
        markL2Dirty(tableOffset, t, i0 + zeroed.front(), i0 + zeroed.back());
        finish();
        lock.unlock();
    }
    *chain = (base + in + n + cs_ - 1) & ~(cs_ - 1);
    return n;
}

// ---- VM state ----

uint64_t Qcow2Driver::vmStateOffset() const {
    const uint64_t coverage = cs_ * l2Entries_;
    return (size_ + coverage - 1) / coverage * coverage;
}

// As QEMU: the state is written as guest data past the disk's end, through the L1 table
// (grown when it is too short), so it is copy-on-write like the data and a snapshot keeps it.
void Qcow2Driver::doWriteVmState(uint64_t pos, std::span<const uint8_t> data) {
    checkAttached();
    file_.debugEvent(BlkdebugEvent::VmstateSave);
    const uint64_t coverage = cs_ * l2Entries_;
    const uint64_t start = vmStateOffset();
    if (pos > UINT64_MAX - start - data.size())
        throwError(EINVAL, filename(), "VM state position out of range");
    const uint64_t offset = start + pos;
    const uint64_t l1Needed = (offset + data.size() + coverage - 1) / coverage;
    if (l1Needed > kMaxL1Bytes / 8)
        throwError(EFBIG, filename(), "VM state too large: the L1 table would exceed 32 MiB");
    {
        std::unique_lock gate(gate_);
        std::unique_lock lock(meta_);
        if (l1Needed > l1_.size()) {
            barrier(); // the new L1 table copies entries whose L2 tables must be durable
            replaceL1(l1Needed);
        }
    }
    std::shared_lock gate(gate_);
    writeImpl(offset, data);
}

void Qcow2Driver::doReadVmState(uint64_t pos, std::span<uint8_t> buf) {
    checkAttached();
    file_.debugEvent(BlkdebugEvent::VmstateLoad);
    const uint64_t start = vmStateOffset();
    if (pos > UINT64_MAX - start - buf.size())
        throwError(EINVAL, filename(), "VM state position out of range");
    doRead(start + pos, buf);
}

// Called with meta_ held: allocates, then writes the data (with copy-on-write of partial
// clusters) outside the lock, then links the clusters into the L2 table.
size_t Qcow2Driver::allocatingWrite(std::unique_lock<std::mutex>& lock, uint64_t c, uint64_t n,
                                    uint64_t in, std::span<const uint8_t> data, uint64_t* chain) {
    // Clusters freed since the last barrier become free first, so that this allocation
    // reuses them first-fit as QEMU's would (QEMU frees them at once).
    if (!releases_.empty() && !external_)
        barrier();
    uint64_t l1i = c / l2Entries_;
    uint64_t tableOffset = 0;
    Table t = writableL2(l1i, &tableOffset);
    uint64_t i0 = c % l2Entries_;
    std::vector<uint64_t> old(t->begin() + long(i0), t->begin() + long(i0 + n));
    // Preallocated zero clusters that are ours alone (and contiguous) are written in place.
    bool reuse = h_.typeOf(old[0]) == ClusterType::ZeroAlloc && (old[0] & kOflagCopied);
    for (uint64_t i = 1; reuse && i < n; ++i)
        reuse = h_.typeOf(old[i]) == ClusterType::ZeroAlloc && (old[i] & kOflagCopied) &&
                (old[i] & kL2OffsetMask) == (old[0] & kL2OffsetMask) + (i << cb_);
    // An external data file maps guest offsets 1:1 and has no refcounts.
    if (external_)
        reuse = true;
    uint64_t host = 0;
    if (external_)
        host = c << cb_;
    else if (reuse)
        host = old[0] & kL2OffsetMask;
    else if (uint64_t k = chain && *chain ? rc_->allocateAt(*chain >> cb_, n) : 0) {
        // The clusters right after the previous piece, as many as are free there.
        host = *chain;
        if (k < n) {
            n = k;
            old.resize(size_t(n));
            data = data.first(std::min(data.size(), size_t((n << cb_) - in)));
        }
    } else {
        host = rc_->allocate(n) << cb_;
    }
    if (chain)
        *chain = host + (n << cb_);
    t.reset();
    try {
        if (!external_)
            checkNoMetadataOverlap(host, n << cb_);
    } catch (...) {
        if (!reuse)
            rc_->decrement(host >> cb_, n);
        throw;
    }
    inflight_.emplace_back(c, c + n);
    auto finish = [&] {
        std::erase(inflight_, std::pair<uint64_t, uint64_t>(c, c + n));
        inflightDone_.notify_all();
    };
    lock.unlock();
    try {
        writeNewClusters(c, n, in, data, host, old);
    } catch (...) {
        lock.lock();
        if (!reuse)
            rc_->decrement(host >> cb_, n); // nothing references them yet
        finish();
        throw;
    }
    lock.lock();
    t = writableL2(l1i, &tableOffset); // the cache may have dropped our copy meanwhile
    for (uint64_t i = 0; i < n; ++i)
        (*t)[i0 + i] = (host + (i << cb_)) | kOflagCopied;
    markL2Dirty(tableOffset, t, i0, i0 + n - 1);
    finish();
    if (!reuse)
        for (uint64_t e : old)
            deferRelease(e, false);
    return data.size();
}

void Qcow2Driver::writeNewClusters(uint64_t c, uint64_t n, uint64_t in,
                                   std::span<const uint8_t> data, uint64_t host,
                                   const std::vector<uint64_t>& old) {
    HostFile& dest = this->data();
    file_.debugEvent(BlkdebugEvent::WriteAio);
    const uint64_t end = in + data.size(); // relative to the first cluster
    size_t consumed = 0;
    uint64_t firstFull = 0;
    std::vector<uint8_t> cl;
    // A partial cluster whose old contents read as zero: write only the data and zero the rest
    // with fallocate instead of writing a cluster-sized buffer of mostly zeros.
    auto oldIsZero = [&](uint64_t entry, uint64_t cluster) {
        if (cs_ < 8192)
            return false;
        switch (h_.typeOf(entry)) {
        case ClusterType::ZeroPlain:
        case ClusterType::ZeroAlloc:
            return true;
        case ClusterType::Unallocated:
            return !backing_ || backing_->size() <= (cluster << cb_);
        default:
            return false;
        }
    };
    if ((in != 0 || end < cs_) && oldIsZero(old[0], c)) {
        size_t take = size_t(std::min<uint64_t>(cs_ - in, data.size()));
        if (in)
            dest.zeroRange(host, in);
        dest.write(host + in, data.first(take));
        if (in + take < cs_)
            dest.zeroRange(host + in + take, cs_ - in - take);
        consumed = take;
        firstFull = 1;
    } else if (in != 0 || end < cs_) {
        cl.resize(cs_);
        file_.debugEvent(BlkdebugEvent::CowRead);
        checkAttached(); // a corruption found while the request was held detached the image
        readOldCluster(old[0], c, cl);
        size_t take = size_t(std::min<uint64_t>(cs_ - in, data.size()));
        std::memcpy(cl.data() + in, data.data(), take);
        dest.write(host, cl);
        consumed = take;
        firstFull = 1;
    }
    if (consumed < data.size()) {
        uint64_t tailBytes = end & (cs_ - 1);
        uint64_t lastFull = tailBytes ? n - 1 : n; // clusters [firstFull, lastFull) fully covered
        if (lastFull > firstFull) {
            size_t bytes = size_t((lastFull - firstFull) << cb_);
            dest.write(host + (firstFull << cb_), data.subspan(consumed, bytes));
            consumed += bytes;
        }
        if (tailBytes && oldIsZero(old[n - 1], c + n - 1)) {
            dest.write(host + ((n - 1) << cb_), data.subspan(consumed, size_t(tailBytes)));
            dest.zeroRange(host + ((n - 1) << cb_) + tailBytes, cs_ - tailBytes);
        } else if (tailBytes) {
            cl.resize(cs_);
            file_.debugEvent(BlkdebugEvent::CowRead);
            checkAttached();
            readOldCluster(old[n - 1], c + n - 1, cl);
            std::memcpy(cl.data(), data.data() + consumed, size_t(tailBytes));
            dest.write(host + ((n - 1) << cb_), cl);
        }
    }
}

// ---- zero / discard ----

// Whether guest bytes [from, to) of the backing chain read as zero (bytes past the end of a
// shorter backing file do).
bool Qcow2Driver::backingReadsAsZero(uint64_t from, uint64_t to) {
    if (!backing_)
        return true;
    to = std::min(to, backing_->size());
    while (from < to) {
        ChainExtent e = chainStatus(*backing_, from, to - from);
        if (!e.zero || e.length == 0)
            return false;
        from += e.length;
    }
    return true;
}

// With meta_ held. Whether the unaligned zero write [from, to) inside one cluster may turn the
// whole cluster into a zero cluster, as QEMU does: the cluster is not stored as data here and
// its bytes outside the request (up to the end of the disk) already read as zero.
bool Qcow2Driver::edgeMayBecomeZero(uint64_t from, uint64_t to) {
    const uint64_t c = from >> cb_;
    switch (h_.typeOf(l2Entry(c))) {
    case ClusterType::ZeroPlain:
    case ClusterType::ZeroAlloc:
        return true;
    case ClusterType::Unallocated: {
        const uint64_t start = c << cb_;
        const uint64_t end = std::min<uint64_t>(start + cs_, size());
        return backingReadsAsZero(start, from) && backingReadsAsZero(to, end);
    }
    default:
        return false;
    }
}

void Qcow2Driver::zeroClusters(uint64_t first, uint64_t count, bool unmap) {
    if (ext_)
        return zeroClustersExt(first, count, unmap);
    uint64_t c = first;
    while (c < first + count) {
        uint64_t l1i = c / l2Entries_;
        uint64_t i0 = c % l2Entries_;
        uint64_t n = std::min(l2Entries_ - i0, first + count - c);
        uint64_t tableOffset = 0;
        Table t = writableL2(l1i, &tableOffset);
        std::vector<uint64_t> release;
        // As QEMU, entries that already say what they would become are not rewritten (an L2
        // table nothing changed in is not written back).
        uint64_t firstChanged = i0 + n, lastChanged = i0;
        for (uint64_t i = i0; i < i0 + n; ++i) {
            uint64_t e = (*t)[i];
            switch (h_.typeOf(e)) {
            case ClusterType::Compressed:
                release.push_back(e);
                (*t)[i] = kOflagZero;
                break;
            case ClusterType::Normal:
            case ClusterType::ZeroAlloc:
                if (unmap) {
                    release.push_back(e);
                    (*t)[i] = kOflagZero;
                } else {
                    (*t)[i] = e | kOflagZero;
                }
                break;
            default:
                (*t)[i] = kOflagZero;
                break;
            }
            if ((*t)[i] != e) {
                firstChanged = std::min(firstChanged, i);
                lastChanged = std::max(lastChanged, i);
            }
        }
        if (firstChanged <= lastChanged)
            markL2Dirty(tableOffset, t, firstChanged, lastChanged);
        for (uint64_t e : release)
            deferRelease(e, true);
        if (external_)
            syncDataZeroes(c, n, release, unmap);
        c += n;
    }
}

void Qcow2Driver::syncDataZeroes(uint64_t first, uint64_t count,
                                 const std::vector<uint64_t>& released, bool unmap) {
    HostFile& f = data();
    if (externalRaw_) {
        // QEMU keeps a raw data file a faithful copy of the disk: zeros go there too.
        uint64_t from = first << cb_;
        uint64_t to = std::min<uint64_t>((first + count) << cb_, size_);
        if (to <= from)
            return;
        if (unmap)
            f.punchHole(from, to - from);
        else
            f.zeroRange(from, to - from);
        return;
    }
    std::vector<uint64_t> freed;
    for (uint64_t e : released)
        if (h_.typeOf(e) == ClusterType::Normal || h_.typeOf(e) == ClusterType::ZeroAlloc)
            freed.push_back((e & kL2OffsetMask) >> cb_);
    punchFreed(f, freed);
}

void Qcow2Driver::discardClusters(uint64_t first, uint64_t count, bool full) {
    if (ext_)
        return discardClustersExt(first, count, full);
    const bool v3 = h_.zeroFlagValid();
    uint64_t c = first;
    while (c < first + count) {
        uint64_t l1i = c / l2Entries_;
        uint64_t i0 = c % l2Entries_;
        uint64_t n = std::min(l2Entries_ - i0, first + count - c);
        c += n;
        // Like QEMU, the L2 table is made writable (allocated or copied) even when no entry
        // changes, so that both leave the same layout.
        uint64_t tableOffset = 0;
        Table t = writableL2(l1i, &tableOffset);
        std::vector<uint64_t> release;
        bool changed = false;
        for (uint64_t i = i0; i < i0 + n; ++i) {
            uint64_t e = (*t)[i];
            uint64_t ne = e;
            switch (h_.typeOf(e)) {
            case ClusterType::Unallocated:
                ne = v3 && backing_ && !full ? kOflagZero : e;
                break;
            case ClusterType::ZeroPlain:
                ne = full ? 0 : e;
                break;
            default:
                ne = v3 && !full ? kOflagZero : 0;
                break;
            }
            if (ne == e)
                continue;
            release.push_back(e);
            (*t)[i] = ne;
            changed = true;
        }
        if (changed)
            markL2Dirty(tableOffset, t, i0, i0 + n - 1);
        for (uint64_t e : release)
            deferRelease(e, true);
        if (external_ && !externalRaw_)
            syncDataZeroes(c - n, n, release, true);
    }
    if (externalRaw_)
        syncDataZeroes(first, count, {}, true);
}

void Qcow2Driver::doWriteZeroes(uint64_t offset, uint64_t length, unsigned zeroFlags) {
    checkAttached();
    data(); // an external data file that is not open fails here, before any L2 change
    if (ext_)
        return extWriteZeroes(offset, length, zeroFlags);
    const uint64_t end = offset + length;
    auto writeZeroBytes = [&](uint64_t from, uint64_t to) {
        std::shared_lock gate(gate_);
        while (from < to) {
            uint64_t n = std::min<uint64_t>(to - from, zeroChunk().size());
            writeImpl(from, std::span(zeroChunk().data(), size_t(n)));
            from += n;
        }
    };
    // v2 has no zero flag: without a backing file, unallocated clusters read as zero, so QEMU
    // discards; with one, zeros must be written.
    const bool zeroFlag = h_.zeroFlagValid();
    auto makeZero = [&](uint64_t first, uint64_t count) {
        if (zeroFlag)
            zeroClusters(first, count, (zeroFlags & ZeroMayUnmap) != 0);
        else
            discardClusters(first, count);
    };
    // A fast zero (NBD FAST_ZERO) is refused on v2 images, as QEMU does.
    if (!zeroFlag && (zeroFlags & ZeroNoFallback))
        throwError(ENOTSUP, filename(), "write zeroes: qcow2 v2 images have no zero clusters");
    if (!zeroFlag && !h_.backingFile.empty()) {
        writeZeroBytes(offset, end);
    } else {
        uint64_t a = (offset + cs_ - 1) & ~(cs_ - 1);
        uint64_t b = end == size() ? ((end + cs_ - 1) & ~(cs_ - 1)) : (end & ~(cs_ - 1));
        // An unaligned edge becomes a zero cluster when the rest of it reads as zero, or
        // else gets explicit zeros (a data cluster), as in QEMU.
        auto partial = [&](uint64_t from, uint64_t to) {
            if (from >= to)
                return;
            {
                // Exclusive: no write can allocate the cluster between the check and the change.
                std::unique_lock gate(gate_);
                std::lock_guard lock(meta_);
                if (edgeMayBecomeZero(from, to)) {
                    makeZero(from >> cb_, 1);
                    return;
                }
            }
            if (zeroFlags & ZeroNoFallback)
                throwError(ENOTSUP, filename(),
                           "write zeroes: partial cluster needs explicit zeros");
            writeZeroBytes(from, to);
        };
        partial(offset, std::min(a, end));
        if (b > a) {
            std::unique_lock gate(gate_);
            std::lock_guard lock(meta_);
            makeZero(a >> cb_, (b - a) >> cb_);
        }
        if (end > std::max(a, b))
            partial(std::max(a, b), end);
    }
    if (zeroFlags & ZeroFua)
        doFlush();
}

void Qcow2Driver::doDiscard(uint64_t offset, uint64_t length) {
    checkAttached();
    data(); // an external data file that is not open fails here, before any L2 change
    // A v2 image has no zero clusters: freeing a cluster would let the backing file's data show
    // through instead of what was written. QEMU keeps the data then (discard is only a hint).
    if (!h_.zeroFlagValid() && (backing_ || !h_.backingFile.empty()))
        return;
    const uint64_t end = offset + length;
    uint64_t a = (offset + cs_ - 1) & ~(cs_ - 1);
    uint64_t b = end == size() ? ((end + cs_ - 1) & ~(cs_ - 1)) : (end & ~(cs_ - 1));
    if (a >= b)
        return;
    {
        std::unique_lock gate(gate_);
        std::lock_guard lock(meta_);
        discardClusters(a >> cb_, (b - a) >> cb_);
    }
    // As QEMU's block layer, which discards an unaligned tail as a request of its own: it
    // fails if the whole clusters before it got the image marked corrupt.
    if (end > b)
        checkAttached();
}

void Qcow2Driver::doFlush() {
    if (detached_)
        return; // as QEMU's flush of a detached node: nothing to do
    file_.debugEvent(BlkdebugEvent::FlushToOs);
    if (changedSinceFlush())
        file_.debugEvent(BlkdebugEvent::FlushToDisk);
    std::lock_guard lock(meta_);
    barrier();
    // Without lazy refcounts only refcount block changes whose write was refused wait here.
    if (rc_ && !rc_->deferred() && rc_->hasDeferred()) {
        try {
            rc_->writeDeferred();
        } catch (const BlockError& e) {
            throw Qcow2CacheFlushError(e.errnoValue(), "refcount block", e.what());
        }
    }
}

// ---- status ----

bool Qcow2Driver::looksMetadataPreallocated() {
    if (!metadataPreallocated_) {
        // As QEMU: more clusters with a refcount than the host allocated, by a ninth (and at
        // least two clusters), means clusters were allocated without being written.
        const uint64_t allocated = file_.allocatedBytes() >> cb_;
        const uint64_t threshold = std::max(allocated * 10 / 9, allocated + 2);
        const uint64_t end = (file_.size() + cs_ - 1) >> cb_;
        uint64_t used = 0;
        for (uint64_t c = 0; c < end && used <= threshold; ++c)
            used += rc_->get(c) > 0;
        metadataPreallocated_ = used > threshold;
    }
    return *metadataPreallocated_;
}

LayerExtent Qcow2Driver::doLayerStatus(uint64_t offset, uint64_t maxLength) {
    checkAttached();
    if (ext_)
        return extLayerStatus(offset, maxLength);
    uint64_t c = offset >> cb_, in = offset & (cs_ - 1);
    Run r;
    bool askDataFile = false;
    {
        std::lock_guard lock(meta_);
        r = mapRun(c, (in + maxLength + cs_ - 1) >> cb_, false);
        askDataFile = r.type == ClusterType::Normal && looksMetadataPreallocated();
    }
    LayerExtent e;
    e.length = std::min((r.clusters << cb_) - in, maxLength);
    switch (r.type) {
    case ClusterType::Unallocated:
        e.kind = Allocation::Unallocated;
        break;
    case ClusterType::ZeroPlain:
        e.kind = Allocation::Zero;
        break;
    case ClusterType::ZeroAlloc:
        e.kind = Allocation::Zero;
        e.hostOffset = (r.entry & kL2OffsetMask) + in;
        break;
    case ClusterType::Normal:
        e.kind = Allocation::Data;
        e.hostOffset = (r.entry & kL2OffsetMask) + in;
        if (askDataFile) {
            // A metadata-preallocated cluster never written is a hole in the data file.
            HostFile::Run run = data().dataRun(*e.hostOffset, *e.hostOffset + e.length);
            e.dataReadsAsZero = !run.data;
            e.length = run.end - *e.hostOffset;
        }
        break;
    case ClusterType::Compressed:
        e.kind = Allocation::Data;
        e.compressed = true;
        e.hostOffset = compressedExtent(r.entry, cb_).offset;
        break;
    }
    return e;
}

// ---- resize ----

void Qcow2Driver::doTruncate(uint64_t newSize) {
    resize(newSize, Preallocation::Off);
}

void Qcow2Driver::doPreallocatingTruncate(uint64_t newSize, Preallocation mode) {
    resize(newSize, mode);
}

void Qcow2Driver::resize(uint64_t newSize, Preallocation mode) {
    checkAttached();
    if (newSize % 512)
        throwError(EINVAL, filename(), "The new size must be a multiple of 512");
    // As QEMU: v2 snapshot entries need not record their disk size, so a snapshot taken
    // before a resize could not tell its own.
    if (h_.version < 3 && h_.nbSnapshots)
        throw BlockError(ENOTSUP, "Can't resize a v2 image which has snapshots");
    data(); // an external data file that is not open fails here, before any change
    // What a partial last cluster holds now (its own data or the backing file's): falloc and
    // full move it into the preallocated area, metadata allocates it with it, as QEMU does.
    const bool dataArea =
        !external_ && (mode == Preallocation::Falloc || mode == Preallocation::Full);
    std::vector<uint8_t> head;
    if (mode != Preallocation::Off && newSize > size_ && (size_ & (cs_ - 1))) {
        head.resize(size_t(size_ & (cs_ - 1)));
        doRead(size_ - head.size(), head);
    }
    std::unique_lock gate(gate_);
    std::unique_lock lock(meta_);
    const uint64_t old = size_;
    if (newSize == old)
        return;
    if (newSize < old) {
        if (mode != Preallocation::Off)
            throw BlockError(ENOTSUP, "Preallocation can only be used for growing images");
        // Snapshots keep their own size and references: the dropped clusters they share
        // only lose the active table's reference.
        uint64_t firstDrop = (newSize + cs_ - 1) >> cb_;
        uint64_t last = (old + cs_ - 1) >> cb_;
        // The data past the new end is deleted, as QEMU's shrink does (qemu-img resize asks
        // for --shrink first); with an external data file, that file shrinks with the disk.
        dropClustersFrom(firstDrop, last);
        if (external_) {
            data().truncate(newSize);
        } else {
            barrier(); // the dropped entries are durable before the header says the new size
            // As QEMU: refcount blocks left counting nothing go, and the file ends after its
            // last cluster in use.
            try {
                rc_->dropUnusedBlocks();
            } catch (const BlockError& e) {
                throw BlockError(e.errnoValue(),
                                 std::string("Failed to discard unused refblocks: ") +
                                     std::strerror(e.errnoValue()));
            }
            const uint64_t end = rc_->usedEnd((file_.size() + cs_ - 1) >> cb_) << cb_;
            if (end < file_.size())
                file_.truncate(end);
        }
        h_.size = newSize;
        writeHeaderFields(24, 32);
        size_ = newSize;
        if (bitmaps_)
            bitmaps_->catalog().resize(newSize);
        return;
    }
    const uint64_t coverage = cs_ * l2Entries_;
    const uint64_t l1Needed = (newSize + coverage - 1) / coverage;
    if (l1Needed > kMaxL1Bytes / 8)
        throwError(EFBIG, filename(), "Image is too big: the L1 table would exceed 32 MiB");
    if (l1Needed > l1_.size()) {
        barrier(); // the new L1 table copies entries whose L2 tables must be durable
        h_.size = newSize;
        replaceL1(l1Needed);
    } else {
        h_.size = newSize;
        writeHeaderFields(24, 32);
    }
    size_ = newSize;
    if (bitmaps_)
        bitmaps_->catalog().resize(newSize);
    const uint64_t alignedOld = (old + cs_ - 1) & ~(cs_ - 1);
    const uint64_t newClusters = (newSize + cs_ - 1) >> cb_;
    // As QEMU: when the backing file reaches past the old end, the whole new area is made to
    // read as zero (zero clusters; written zeros in a partial last cluster), unless it is
    // fresh preallocated file space, which reads as zero anyway.
    const bool hideBacking = backing_ && backing_->size() > old && !dataArea;
    // With subclusters, QEMU zeroes from the next subcluster boundary on.
    const uint64_t scSize = uint64_t(1) << scBits_;
    const uint64_t zeroStart =
        ext_ && hideBacking ? (old + scSize - 1) & ~(scSize - 1) : alignedOld;
    bool tailWritten = false;
    auto writeTail = [&] {
        if (!(old & (cs_ - 1)) || tailWritten)
            return;
        tailWritten = true;
        // A cluster that reads as zero needs nothing (QEMU leaves it alone too).
        const ClusterType type = h_.typeOf(l2Entry(old >> cb_));
        if (!hideBacking && type != ClusterType::Normal && type != ClusterType::Compressed)
            return;
        lock.unlock();
        const uint64_t to = std::min(newSize, zeroStart);
        if (to > old)
            writeImpl(old, std::span(zeroChunk().data(), size_t(to - old)));
        lock.lock();
    };
    // Metadata preallocation allocates a partial last cluster that is not allocated yet with
    // what it shows before the old end (QEMU's copy-on-write); the rest of it stays as the
    // host file has it.
    auto allocateHead = [&] {
        if (head.empty() || hideBacking)
            return writeTail();
        const ClusterType type = h_.typeOf(l2Entry(old >> cb_));
        if (type != ClusterType::Unallocated && type != ClusterType::ZeroPlain)
            return writeTail();
        tailWritten = true;
        lock.unlock();
        writeImpl(old - head.size(), head);
        lock.lock();
    };
    if (external_) {
        const uint64_t had = data().size();
        if (had < newSize) {
            data().truncate(newSize);
            if (mode == Preallocation::Falloc && !data().preallocate(had, newSize - had))
                throwError(ENOTSUP, filename(),
                           "Could not preallocate new data: fallocate is not supported");
            if (mode == Preallocation::Full)
                writeZeros(data(), had, newSize);
        }
        if ((externalRaw_ || mode != Preallocation::Off) && newSize > alignedOld) {
            if (!externalRaw_)
                allocateHead();
            uint64_t end = 0; // host = guest offset: a raw data file is mapped whole
            preallocateClusters(alignedOld >> cb_, newClusters - (alignedOld >> cb_),
                                Preallocation::Metadata, &end);
        }
    } else if (mode == Preallocation::Metadata) {
        allocateHead();
        if (newSize > alignedOld) {
            uint64_t end = 0;
            preallocateClusters(alignedOld >> cb_, newClusters - (alignedOld >> cb_), mode, &end);
            if (file_.size() < end)
                file_.truncate(end);
        }
    } else if (dataArea) {
        preallocateDataArea(mode, old >> cb_, head, ext_ && backing_ && backing_->size() > old);
        tailWritten = true;
    }
    if (mode != Preallocation::Off)
        barrier();
    if (ext_ && hideBacking && newSize > zeroStart) {
        // A compressed last cluster cannot be zeroed in part: zeros are written there.
        if (!zeroizeSubclusters(zeroStart, newSize - zeroStart, false)) {
            const uint64_t to = std::min(newSize, alignedOld);
            lock.unlock();
            writeImpl(zeroStart, std::span(zeroChunk().data(), size_t(to - zeroStart)));
            lock.lock();
            if (newSize > alignedOld)
                zeroClusters(alignedOld >> cb_, newClusters - (alignedOld >> cb_), false);
        }
    } else if (hideBacking && h_.zeroFlagValid() && newSize > alignedOld) {
        zeroClusters(alignedOld >> cb_, newClusters - (alignedOld >> cb_), false);
    }
    writeTail();
    lock.unlock();
    if (hideBacking && !h_.zeroFlagValid()) {
        const uint64_t to = std::min(newSize, backing_->size());
        for (uint64_t p = alignedOld; p < to;) {
            const uint64_t n = std::min<uint64_t>(to - p, zeroChunk().size());
            writeImpl(p, std::span(zeroChunk().data(), size_t(n)));
            p += n;
        }
    }
}

// With meta_ held: clears the L2 entries of clusters [first, last) (external data file only:
// they hold no references).
void Qcow2Driver::dropClustersFrom(uint64_t first, uint64_t last) {
    for (uint64_t c = first; c < last;) {
        uint64_t l1i = c / l2Entries_;
        uint64_t i0 = c % l2Entries_;
        uint64_t n = std::min(l2Entries_ - i0, last - c);
        c += n;
        if (l1i >= l1_.size() || !(l1_[l1i] & kL1OffsetMask))
            continue;
        const uint64_t tableAt = l1_[l1i] & kL1OffsetMask;
        Table cur = loadL2(tableAt, l1i);
        // A table wholly past the end goes (as QEMU shrinks the L1 table) if no snapshot
        // shares it; its clusters lose their reference after the L1 entry is durable.
        if (i0 == 0 && !external_ && (l1_[l1i] & kOflagCopied)) {
            for (uint64_t e : std::span(cur->data(), size_t(l2Entries_)))
                if (h_.typeOf(e) != ClusterType::Unallocated &&
                    h_.typeOf(e) != ClusterType::ZeroPlain)
                    deferRelease(e, true);
            l1_[l1i] = 0;
            l1Dirty_.insert(l1i);
            deferRelease(tableAt >> cb_, 1, true, true);
            continue;
        }
        if (std::all_of(cur->begin() + long(i0), cur->begin() + long(i0 + n),
                        [](uint64_t e) { return e == 0; }) &&
            (!ext_ || std::all_of(cur->begin() + long(l2Entries_ + i0),
                                  cur->begin() + long(l2Entries_ + i0 + n),
                                  [](uint64_t b) { return b == 0; })))
            continue;
        uint64_t tableOffset = 0;
        Table t = writableL2(l1i, &tableOffset);
        for (uint64_t i = i0; i < i0 + n && !external_; ++i)
            if (h_.typeOf((*t)[i]) != ClusterType::Unallocated &&
                h_.typeOf((*t)[i]) != ClusterType::ZeroPlain)
                deferRelease((*t)[i], true);
        std::fill(t->begin() + long(i0), t->begin() + long(i0 + n), 0);
        if (ext_)
            std::fill(t->begin() + long(l2Entries_ + i0), t->begin() + long(l2Entries_ + i0 + n),
                      0);
        markL2Dirty(tableOffset, t, i0, i0 + n - 1);
    }
}

// ---- compressed ----

void Qcow2Driver::doWriteCompressed(uint64_t offset, std::span<const uint8_t> data) {
    checkAttached();
    if (external_)
        throwError(ENOTSUP, filename(),
                   "compressed writes are not possible with an external data file");
    if (offset & (cs_ - 1))
        throwError(EINVAL, filename(),
                   "compressed write at " + hex(offset) + " is not cluster aligned");
    if (data.size() != cs_ && offset + data.size() != size())
        throwError(EINVAL, filename(), "compressed write must cover exactly one cluster");
    if (data.size() > cs_)
        throwError(EINVAL, filename(), "compressed write larger than a cluster");
    std::vector<uint8_t> buf(cs_, 0);
    std::memcpy(buf.data(), data.data(), data.size());
    std::vector<uint8_t> z = deflateCluster(compressionType(), buf, size_t(cs_ - 1));
    if (z.empty()) {
        std::shared_lock gate(gate_);
        writeImpl(offset, data);
        return;
    }
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    uint64_t c = offset >> cb_;
    uint64_t tableOffset = 0;
    Table t = writableL2(c / l2Entries_, &tableOffset);
    uint64_t i = c % l2Entries_;
    uint64_t old = (*t)[i];
    uint64_t host = rc_->allocateBytes(z.size(), "compressed cluster");
    checkMetadataPlacement(host, z.size(), "compressed cluster");
    file_.debugEvent(BlkdebugEvent::WriteCompressed);
    file_.write(host, z);
    file_.debugEvent(BlkdebugEvent::L2UpdateCompressed);
    (*t)[i] = compressedEntry(host, z.size(), cb_);
    if (ext_)
        (*t)[l2Entries_ + i] = 0; // as QEMU: a compressed cluster has no subclusters
    markL2Dirty(tableOffset, t, i, i);
    deferRelease(old, true);
}

// ---- preallocation ----

void Qcow2Driver::preallocate(Preallocation mode) {
    if (mode == Preallocation::Off)
        return;
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    if (!external_ && (mode == Preallocation::Falloc || mode == Preallocation::Full)) {
        preallocateDataArea(mode, 0, {});
        barrier();
        return;
    }
    uint64_t end = 0;
    preallocateClusters(0, (size_ + cs_ - 1) >> cb_, mode, &end);
    if (!external_ && file_.size() < end)
        file_.truncate(end);
    barrier();
}

// With meta_ held; falloc and full preallocation of guest clusters [firstCluster, end of
// disk), laid out as QEMU lays it out (at creation and when growing): after the last used
// cluster, refcount structures that cover everything, then all data clusters in one run
// (allocated on the host), then any new L2 tables (the first one where the old refcount table
// was). `head` is the content of a partial first cluster, which moves there too.
void Qcow2Driver::preallocateDataArea(Preallocation mode, uint64_t firstCluster,
                                      std::span<const uint8_t> head, bool allocateSubclusters) {
    uint64_t used = (file_.size() + cs_ - 1) >> cb_;
    while (used > 0 && rc_->get(used - 1) == 0)
        --used;
    const uint64_t endCluster = (size_ + cs_ - 1) >> cb_;
    if (endCluster <= firstCluster)
        return;
    const uint64_t dataClusters = endCluster - firstCluster;
    // One more L2 table than needed, as QEMU counts (for an unaligned head or tail).
    const uint64_t l2Tables = (dataClusters + l2Entries_ - 1) / l2Entries_ + 1;
    const uint64_t first = rc_->placeArea(used, dataClusters + l2Tables);
    rc_->increment(first, dataClusters);
    const uint64_t from = file_.size(), to = (first + dataClusters) << cb_;
    if (to > from) {
        if (mode == Preallocation::Falloc) {
            if (!file_.preallocate(from, to - from))
                throwError(ENOTSUP, filename(),
                           "Could not preallocate: fallocate is not supported");
        } else {
            writeZeros(file_, from, to);
        }
    }
    if (!head.empty())
        file_.write(first << cb_, head);
    for (uint64_t c = 0; c < dataClusters;) {
        const uint64_t g = firstCluster + c;
        const uint64_t i0 = g % l2Entries_;
        const uint64_t n = std::min(l2Entries_ - i0, dataClusters - c);
        uint64_t tableOffset = 0;
        Table t = writableL2(g / l2Entries_, &tableOffset);
        for (uint64_t i = 0; i < n; ++i) {
            const uint64_t was = (*t)[i0 + i];
            // The cluster left behind is not punched: like QEMU (which never discards a
            // cluster replaced in a mapping), the host file keeps its space.
            if (h_.typeOf(was) != ClusterType::Unallocated &&
                h_.typeOf(was) != ClusterType::ZeroPlain)
                deferRelease(was, false);
            (*t)[i0 + i] = ((first + c + i) << cb_) | kOflagCopied;
            if (ext_ && allocateSubclusters)
                (*t)[l2Entries_ + i0 + i] = kSubclusterAllocMask;
        }
        markL2Dirty(tableOffset, t, i0, i0 + n - 1);
        c += n;
    }
}

// With meta_ held. An external data file is sized and filled by its creator: here only the
// L2 entries are written (host = guest offset).
void Qcow2Driver::preallocateClusters(uint64_t first, uint64_t count, Preallocation mode,
                                      uint64_t* end) {
    for (uint64_t c = first; c < first + count;) {
        uint64_t l1i = c / l2Entries_;
        uint64_t i0 = c % l2Entries_;
        uint64_t n = std::min(l2Entries_ - i0, first + count - c);
        uint64_t tableOffset = 0;
        Table t = writableL2(l1i, &tableOffset);
        uint64_t host = external_ ? c << cb_ : rc_->allocate(n) << cb_;
        if (!external_ && mode == Preallocation::Falloc && !file_.preallocate(host, n << cb_))
            throwError(ENOTSUP, filename(), "Could not preallocate: fallocate is not supported");
        if (!external_ && mode == Preallocation::Full)
            writeZeros(file_, host, host + (n << cb_));
        // Like QEMU (its copy-on-write of the new last cluster), the part of a partial last
        // cluster past the end of the disk gets explicit zeros.
        const uint64_t tail = size_ & (cs_ - 1);
        if (!external_ && mode == Preallocation::Metadata && tail &&
            c + n == ((size_ + cs_ - 1) >> cb_)) {
            for (uint64_t p = ((n - 1) << cb_) + tail; p < (n << cb_);) {
                uint64_t k = std::min<uint64_t>((n << cb_) - p, zeroChunk().size());
                file_.write(host + p, std::span(zeroChunk().data(), size_t(k)));
                p += k;
            }
        }
        // Like QEMU: normal entries; the sparse file reads as zero until written.
        for (uint64_t i = 0; i < n; ++i)
            (*t)[i0 + i] = (host + (i << cb_)) | kOflagCopied;
        markL2Dirty(tableOffset, t, i0, i0 + n - 1);
        *end = std::max(*end, host + (n << cb_));
        c += n;
    }
}

} // namespace e2kvm::block::qcow2

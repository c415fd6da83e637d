// Qcow2Driver's answer to corruption it finds in its own metadata, as QEMU's qcow2 driver
// gives it: a write that would overwrite metadata (the overlap checks), or a table entry that
// cannot be right. On a writable image such a find is fatal: the image is marked corrupt
// (incompatible bit 1, so that it opens read-only until `check -r all` repairs it) and every
// later request fails (ENOMEDIUM), as QEMU detaches the driver. Otherwise it is reported.
// Either way the request that found it fails with EIO, and each kind is reported once.
#include "Qcow2Driver.h"
#include "Qcow2Overlap.h"
#include "Qcow2RuntimeOptions.h"

#include "block/BlockLog.h"

#include <algorithm>

namespace e2kvm::block::qcow2 {

void Qcow2Driver::signalCorruption(bool fatal, const std::string& what) {
    reportCorruption(fatal, what);
    throwError(EIO, filename(), what);
}

void Qcow2Driver::reportCorruption(bool fatal, const std::string& what) {
    fatal = fatal && !readOnly();
    const bool alreadyMarked = (h_.incompatible & kIncompatCorrupt) != 0;
    if (!corruptionReported_ || (fatal && !alreadyMarked)) {
        logMessage(LogLevel::Corruption, filename(),
                   fatal ? "qcow2: Marking image as corrupt: " + what +
                               "; further corruption events will be suppressed"
                         : "qcow2: Image is corrupt: " + what +
                               "; further non-fatal corruption events will be suppressed");
    }
    corruptionReported_ = true;
    if (fatal) {
        detached_ = true;
        if (!alreadyMarked) {
            h_.incompatible |= kIncompatCorrupt;
            try {
                writeHeaderFields(72, 80);
                file_.sync();
            } catch (const std::exception& e) {
                logMessage(LogLevel::Warning, filename(),
                           std::string("could not mark the image corrupt: ") + e.what());
            }
        }
    }
}

void Qcow2Driver::applyRuntimeOptions(const DriverOptions& options) {
    std::lock_guard lock(meta_);
    overlapChecks_ = checkQcow2RuntimeOptions(options, cs_, size_, h_.version >= 3);
    if (auto lazy = lazyRefcountsOption(options); lazy && !readOnly() && !detached_)
        useLazyRefcounts(*lazy);
}

void Qcow2Driver::checkAttached() const {
    if (detached_)
        throwError(ENOMEDIUM, filename(),
                   "the image was marked corrupt; no more requests are served until it is "
                   "repaired (check -r all)");
}

unsigned Qcow2Driver::metadataOverlap(uint64_t host, uint64_t length, unsigned ignore) {
    const unsigned checks = overlapChecks_ & ~ignore;
    if (!checks || !length)
        return 0;
    auto overlaps = [&](uint64_t start, uint64_t bytes) {
        return bytes && host < start + bytes && start < host + length;
    };
    auto overlapsCluster = [&](uint64_t start) { return start && overlaps(start, cs_); };
    if ((checks & kMetaMainHeader) && overlaps(0, cs_))
        return kMetaMainHeader;
    if ((checks & kMetaActiveL1) && overlaps(h_.l1Offset, uint64_t(h_.l1Size) * 8))
        return kMetaActiveL1;
    if (checks & kMetaActiveL2)
        for (uint64_t e : l1_)
            if (overlapsCluster(e & kL1OffsetMask))
                return kMetaActiveL2;
    if ((checks & kMetaRefcountTable) &&
        overlaps(rc_->tableOffset(), uint64_t(rc_->tableClusters()) * cs_))
        return kMetaRefcountTable;
    if ((checks & kMetaRefcountBlock) && rc_->overlapsBlock(host, length))
        return kMetaRefcountBlock;
    if ((checks & kMetaSnapshotTable) && overlaps(h_.snapshotsOffset, snapshotTableBytes_))
        return kMetaSnapshotTable;
    if (checks & kMetaInactiveL1)
        for (const auto& s : snapshots_)
            if (overlaps(s.l1Offset, uint64_t(s.l1Size) * 8))
                return kMetaInactiveL1;
    if (checks & kMetaInactiveL2)
        for (const auto& s : snapshots_) {
            // As QEMU: a snapshot L1 table that cannot be valid fails the check itself (and
            // with it the write it guards); one that cannot be read is left to `check`.
            validateSnapshotL1(s, cs_);
            std::vector<uint64_t> l1;
            try {
                l1 = readL1Table(s.l1Offset, s.l1Size, 0);
            } catch (const BlockError&) {
                continue;
            }
            for (uint64_t e : l1)
                if (overlapsCluster(e & kL1OffsetMask))
                    return kMetaInactiveL2;
        }
    if ((checks & kMetaBitmapDirectory) && h_.bitmapsExtension &&
        h_.bitmapsExtension->size() >= 24) {
        const uint8_t* ext = h_.bitmapsExtension->data();
        if (overlaps(getBe64(ext + 16), getBe64(ext + 8)))
            return kMetaBitmapDirectory;
    }
    return 0;
}

void Qcow2Driver::checkNoMetadataOverlap(uint64_t host, uint64_t length, unsigned ignore) {
    if (unsigned hit = metadataOverlap(host, length, ignore))
        signalCorruption(true, std::string("Preventing invalid write on metadata (overlaps with ") +
                                   metadataName(Qcow2Metadata(hit)) + ")");
}

void Qcow2Driver::checkMetadataPlacement(uint64_t host, uint64_t length, const char* what) {
    if ((host >> cb_) == 0)
        signalCorruption(true,
                         std::string("Preventing invalid allocation of ") + what + " at offset 0");
    checkNoMetadataOverlap(host, length);
}

} // namespace e2kvm::block::qcow2

#include "Qcow2SnapshotTable.h"

#include "Qcow2Format.h"
#include "block/BlockError.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace e2kvm::block::qcow2 {

namespace {

uint64_t align8(uint64_t v) {
    return (v + 7) & ~uint64_t(7);
}

} // namespace

Qcow2SnapshotEntry readSnapshotEntry(const HostFile& f, uint64_t pos, uint64_t defaultDiskSize,
                                     uint64_t* end, uint32_t* storedExtra) {
    uint8_t e[kSnapshotHeaderBytes];
    f.read(pos, e);
    Qcow2SnapshotEntry s;
    s.l1Offset = getBe64(e);
    s.l1Size = getBe32(e + 8);
    const uint16_t idLen = getBe16(e + 12);
    const uint16_t nameLen = getBe16(e + 14);
    s.dateSec = getBe32(e + 16);
    s.dateNsec = getBe32(e + 20);
    s.vmClockNsec = getBe64(e + 24);
    s.vmStateSize = getBe32(e + 32);
    *storedExtra = getBe32(e + 36);
    s.extraDataSize = std::min(*storedExtra, kMaxSnapshotExtraBytes);
    s.diskSize = defaultDiskSize;
    pos += kSnapshotHeaderBytes;
    std::vector<uint8_t> x(s.extraDataSize);
    if (!x.empty())
        f.read(pos, x);
    if (s.extraDataSize >= 8)
        s.vmStateSize = getBe64(x.data());
    if (s.extraDataSize >= 16)
        s.diskSize = getBe64(x.data() + 8);
    if (s.extraDataSize >= 24)
        s.icount = getBe64(x.data() + 16);
    if (s.extraDataSize > kSnapshotKnownExtraBytes)
        s.unknownExtra.assign(x.begin() + kSnapshotKnownExtraBytes, x.end());
    pos += *storedExtra;
    std::vector<uint8_t> names(size_t(idLen) + nameLen);
    if (!names.empty())
        f.read(pos, names);
    s.id.assign(names.begin(), names.begin() + idLen);
    s.name.assign(names.begin() + idLen, names.end());
    *end = pos + names.size();
    return s;
}

std::vector<Qcow2SnapshotEntry> readSnapshotTable(const HostFile& f, const Qcow2Header& h,
                                                  uint64_t defaultDiskSize, uint64_t* tableBytes) {
    std::vector<Qcow2SnapshotEntry> out;
    uint64_t pos = h.snapshotsOffset;
    for (uint32_t i = 0; i < h.nbSnapshots; ++i) {
        pos = h.snapshotsOffset + align8(pos - h.snapshotsOffset);
        uint32_t claimed = 0;
        Qcow2SnapshotEntry s = readSnapshotEntry(f, pos, defaultDiskSize, &pos, &claimed);
        // As QEMU: the second line is its hint.
        if (claimed > kMaxSnapshotExtraBytes)
            throwError(EFBIG, f.path(),
                       "Too much extra metadata in snapshot table entry " + std::to_string(i) +
                           "\nYou can force-remove this extra metadata with qemu-img check -r all");
        if (pos - h.snapshotsOffset > kMaxSnapshotTableBytes)
            throwError(EFBIG, f.path(),
                       "Snapshot table is too big\nYou can force-remove all " +
                           std::to_string(h.nbSnapshots - i) +
                           " overhanging snapshots with qemu-img check -r all");
        out.push_back(std::move(s));
    }
    if (tableBytes)
        *tableBytes = pos - h.snapshotsOffset;
    return out;
}

void validateSnapshotL1(const Qcow2SnapshotEntry& s, uint64_t clusterSize) {
    if (uint64_t(s.l1Size) > kMaxL1Bytes / 8)
        throw BlockError(EFBIG, "Snapshot L1 table too large");
    if (uint64_t(INT64_MAX) - uint64_t(s.l1Size) * 8 < s.l1Offset ||
        (s.l1Offset & (clusterSize - 1)))
        throw BlockError(EINVAL, "Snapshot L1 table offset invalid");
}

std::vector<uint8_t> serializeSnapshotTable(const std::vector<Qcow2SnapshotEntry>& entries) {
    std::vector<uint8_t> out;
    for (const Qcow2SnapshotEntry& s : entries) {
        out.resize(size_t(align8(out.size())), 0);
        const uint32_t extra = kSnapshotKnownExtraBytes + uint32_t(s.unknownExtra.size());
        const size_t at = out.size();
        out.resize(at + kSnapshotHeaderBytes + extra + s.id.size() + s.name.size(), 0);
        if (out.size() > kMaxSnapshotTableBytes)
            throw BlockError(EFBIG, "the snapshot table would exceed 64 MiB");
        uint8_t* e = out.data() + at;
        putBe64(e, s.l1Offset);
        putBe32(e + 8, s.l1Size);
        putBe16(e + 12, uint16_t(s.id.size()));
        putBe16(e + 14, uint16_t(s.name.size()));
        putBe32(e + 16, s.dateSec);
        putBe32(e + 20, s.dateNsec);
        putBe64(e + 24, s.vmClockNsec);
        // A VM state too large for 32 bits is left to the extra data: older readers then see a
        // disk-only snapshot instead of a truncated state.
        putBe32(e + 32, s.vmStateSize <= 0xffffffffu ? uint32_t(s.vmStateSize) : 0);
        putBe32(e + 36, extra);
        uint8_t* x = e + kSnapshotHeaderBytes;
        putBe64(x, s.vmStateSize);
        putBe64(x + 8, s.diskSize);
        putBe64(x + 16, s.icount);
        std::copy(s.unknownExtra.begin(), s.unknownExtra.end(), x + kSnapshotKnownExtraBytes);
        uint8_t* names = x + extra;
        std::copy(s.id.begin(), s.id.end(), names);
        std::copy(s.name.begin(), s.name.end(), names + s.id.size());
    }
    return out;
}

} // namespace e2kvm::block::qcow2

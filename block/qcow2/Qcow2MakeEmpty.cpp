// Emptying a qcow2 image after `commit` (Qcow2Image::makeEmpty), with the two ways QEMU's
// qcow2 driver has: a complete re-layout when the image allows it, else a discard of every
// guest cluster through the driver.
#include "Qcow2Driver.h"
#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Image.h"

#include <vector>

namespace e2kvm::block {

using namespace qcow2;

namespace {

// Whether QEMU would lay out the whole image anew: a v3 image with nothing that reserves
// clusters besides the tables (snapshots, bitmaps, encryption) and no external data file,
// whose header, refcount table, refcount block and L1 table fit into one refcount block.
bool canEmptyCompletely(const Qcow2Header& h) {
    uint64_t cs = h.clusterSize();
    uint64_t l1Clusters = (uint64_t(h.l1Size) * 8 + cs - 1) / cs;
    uint64_t blockEntries = cs * 8 / h.refcountBits();
    return h.version >= 3 && h.nbSnapshots == 0 && !h.bitmapsExtension && h.cryptMethod == 0 &&
           !h.hasDataFile() && 3 + l1Clusters <= blockEntries;
}

void setRefcountOne(std::vector<uint8_t>& block, uint64_t index, uint32_t bits) {
    uint64_t bit = index * bits;
    if (bits >= 8) {
        // Big-endian value 1 in the last byte of the entry.
        block[size_t((bit + bits) / 8 - 1)] = 1;
    } else {
        // Sub-byte entries start at the least significant bits of each byte.
        block[size_t(bit / 8)] = uint8_t(block[size_t(bit / 8)] | (1u << (bit % 8)));
    }
}

// Writes the header bytes [from, to) of `h` and syncs them (QEMU's bdrv_pwrite_sync).
void writeHeaderSpan(HostFile& file, const Qcow2Header& h, size_t from, size_t to) {
    std::vector<uint8_t> header = serializeHeader(h, file.path());
    file.write(from, std::span(header.data() + from, to - from));
    file.sync();
}

// The new layout, in QEMU's steps and with its injector events between them (an error
// injected at any step leaves the image as QEMU leaves it: dirty, to be repaired on open):
// the dirty bit is set, the old L1 table zeroed, clusters 1.. zeroed for the refcount table
// (cluster 1), the refcount block (2) and the L1 table (3..), the header pointed at them, the
// refcount block entered into the table, the clusters in use counted, the dirty bit cleared.
void emptyCompletely(HostFile& file, Qcow2Header& h) {
    const uint64_t cs = h.clusterSize();
    const uint64_t l1Clusters = (uint64_t(h.l1Size) * 8 + cs - 1) / cs;
    if (!(h.incompatible & kIncompatDirty)) {
        h.incompatible |= kIncompatDirty;
        writeHeaderSpan(file, h, 72, 80);
    }

    file.debugEvent(BlkdebugEvent::L1Update);
    file.zeroRange(h.l1Offset, l1Clusters * cs);
    file.debugEvent(BlkdebugEvent::EmptyImagePrepare);
    file.zeroRange(cs, (2 + l1Clusters) * cs);

    file.debugEvent(BlkdebugEvent::L1Update);
    file.debugEvent(BlkdebugEvent::ReftableUpdate);
    h.l1Offset = 3 * cs;
    h.refTableOffset = cs;
    h.refTableClusters = 1;
    writeHeaderSpan(file, h, 40, 60); // L1 offset, refcount table offset and clusters

    file.debugEvent(BlkdebugEvent::RefblockAlloc);
    uint8_t entry[8];
    putBe64(entry, 2 * cs);
    file.write(cs, entry);
    file.sync();

    // Header, refcount table, refcount block and L1 table get refcount 1.
    file.debugEvent(BlkdebugEvent::ClusterAlloc);
    file.debugEvent(BlkdebugEvent::RefblockLoad);
    std::vector<uint8_t> block(size_t(cs), 0);
    file.read(2 * cs, block);
    for (uint64_t c = 0; c < 3 + l1Clusters; ++c)
        setRefcountOne(block, c, h.refcountBits());
    file.debugEvent(BlkdebugEvent::RefblockUpdatePart);
    file.write(2 * cs, block);
    file.sync();

    h.incompatible &= ~kIncompatDirty;
    writeHeaderSpan(file, h, 72, 80);
    file.truncate((3 + l1Clusters) * cs);
}

} // namespace

void Qcow2Image::makeEmpty(const std::string& path, std::shared_ptr<Blkdebug> injector) {
    {
        HostFile file(path, HostFile::Mode::ReadWrite);
        file.setBlkdebug(injector);
        Qcow2Header h = readHeader(file);
        if (canEmptyCompletely(h)) {
            emptyCompletely(file, h);
            return;
        }
    }
    OpenOptions o;
    o.format = "qcow2";
    o.readOnly = false;
    o.openBacking = false;
    o.blkdebug = std::move(injector);
    Qcow2Driver image(path, o);
    image.discardAllClusters();
    image.flush();
}

void qcow2::Qcow2Driver::discardAllClusters() {
    data();
    uint64_t clusters = (size() + cs_ - 1) >> cb_;
    if (!clusters)
        return;
    std::unique_lock gate(gate_);
    std::lock_guard lock(meta_);
    discardClusters(0, clusters, true);
}

} // namespace e2kvm::block

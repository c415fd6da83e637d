// Qcow2Image::create: writes a fresh qcow2 image laid out as `qemu-img create` lays it out
// (header, refcount table, one refcount block, L1 table), then preallocates if asked.
#include "Qcow2Compression.h"
#include "Qcow2Driver.h"
#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Image.h"
#include "Qcow2Refcounts.h"

#include <algorithm>
#include <bit>
#include <memory>
#include <vector>

namespace e2kvm::block {

using namespace qcow2;

namespace {

void validate(const std::string& path, const CreateOptions& o, bool v3) {
    uint32_t cs = o.clusterSize;
    if (cs < 512 || cs > (2u << 20) || !std::has_single_bit(cs))
        throwError(EINVAL, path, "Cluster size must be a power of two between 512 and 2048k");
    if (!std::has_single_bit(o.refcountBits) || o.refcountBits > 64)
        throwError(EINVAL, path,
                   "Refcount width must be a power of two and may not exceed 64 bits");
    if (!v3 && o.refcountBits != 16)
        throwError(
            EINVAL, path,
            "Different refcount widths than 16 bits require compatibility level 1.1 or above "
            "(use version=v3 or greater)");
    if (!v3 && o.lazyRefcounts)
        throwError(EINVAL, path,
                   "Lazy refcounts only supported with compatibility level 1.1 and above "
                   "(use version=v3 or greater)");
    if (o.dataFileRaw && o.dataFile.empty())
        throwError(EINVAL, path, "data-file-raw requires data-file");
    if (!v3 && !o.dataFile.empty())
        throwError(EINVAL, path,
                   "External data files are only supported with compatibility level 1.1 and "
                   "above (use version=v3 or greater)");
    if (o.dataFileRaw && !o.backingFile.empty())
        throwError(EINVAL, path, "Backing file and data-file-raw cannot be used at the same time");
    if (o.extendedL2 && !v3)
        throwError(EINVAL, path,
                   "Extended L2 entries are only supported with compatibility level 1.1 and "
                   "above (use version=v3 or greater)");
    if (o.extendedL2 && cs < 512 * kSubclustersPerCluster)
        throwError(EINVAL, path,
                   "Extended L2 entries are only supported with cluster sizes of at least " +
                       std::to_string(512 * kSubclustersPerCluster) + " bytes");
    if (!o.compressionType.empty() && o.compressionType != "zlib" && o.compressionType != "zstd")
        throwError(EINVAL, path,
                   "Parameter 'compression-type' does not accept value '" + o.compressionType +
                       "'");
    if (!v3 && o.compressionType == "zstd")
        throwError(EINVAL, path,
                   "Non-zlib compression type is only supported with compatibility level 1.1 "
                   "and above (use version=v3 or greater)");
    if (!o.backingFile.empty() && o.preallocation != Preallocation::Off && !o.extendedL2)
        throwError(EINVAL, path,
                   "Backing file and preallocation can only be used at the same time if "
                   "extended_l2 is on");
    if (o.backingFile.empty() && !o.backingFormat.empty())
        throwError(EINVAL, path, "Backing format cannot be used without backing file");
    if (o.backingFile.size() > kMaxBackingNameLength)
        throwError(EINVAL, path, "Backing file name too long");
}

// Creates the external data file, sized to the virtual size. Without data_file_raw it is made
// anew, as qemu-img makes it (nothing it held would show through the image). With
// data_file_raw it is the disk the metadata describes: an existing file keeps its bytes (the
// raw disk gains qcow2 metadata, e.g. for persistent bitmaps; qemu-img 7.2 would empty it),
// cut or grown to the virtual size as qemu-img's would be. Full preallocation writes zeros to
// the bytes it did not have; falloc and full reserve the host space of the whole disk.
void prepareDataFile(const CreateOptions& o, uint64_t size) {
    // Relative to the working directory, as QEMU creates it (and as it is opened again).
    const std::string& path = o.dataFile;
    std::unique_ptr<HostFile> f;
    if (o.dataFileRaw) {
        try {
            f = std::make_unique<HostFile>(path, HostFile::Mode::ReadWrite);
        } catch (const BlockError& e) {
            if (e.errnoValue() != ENOENT)
                throw;
        }
    }
    if (!f)
        f = std::make_unique<HostFile>(path, HostFile::Mode::Create);
    const uint64_t had = std::min(f->size(), size);
    if (f->size() != size)
        f->truncate(size);
    if (o.preallocation == Preallocation::Falloc || o.preallocation == Preallocation::Full) {
        if (size && !f->preallocate(0, size))
            throwError(ENOTSUP, path, "Could not preallocate: fallocate is not supported");
    }
    if (o.preallocation == Preallocation::Full) {
        static const std::vector<uint8_t> zeros(1 << 20, 0);
        for (uint64_t p = had; p < size;) {
            uint64_t k = std::min<uint64_t>(size - p, zeros.size());
            f->write(p, std::span(zeros.data(), size_t(k)));
            p += k;
        }
    }
    f->sync();
}

} // namespace

void Qcow2Image::create(const std::string& path, const CreateOptions& o,
                        std::shared_ptr<BlockDriver> fileNode) {
    bool v3;
    if (o.compat == "1.1" || o.compat == "v3" || o.compat.empty())
        v3 = true;
    else if (o.compat == "0.10" || o.compat == "v2")
        v3 = false;
    else
        throwError(EINVAL, path, "Invalid compatibility level: '" + o.compat + "'");
    validate(path, o, v3);

    uint64_t size = o.size;
    if (!o.sizeGiven && size == 0 && !o.backingFile.empty()) {
        OpenOptions bo;
        bo.format = o.backingFormat;
        bo.openBacking = false;
        bo.forceShare = true; // as qemu-img create: the backing file may be in use
        size = openImage(resolveBackingPath(path, o.backingFile), bo)->size();
    }
    if (size % 512)
        throwError(EINVAL, path, "Image size must be a multiple of 512 bytes");
    if (!o.dataFile.empty() && !o.dataFileExists)
        prepareDataFile(o, size);

    Qcow2Header h;
    h.version = v3 ? 3 : 2;
    h.clusterBits = uint32_t(std::countr_zero(o.clusterSize));
    h.refcountOrder = uint32_t(std::countr_zero(o.refcountBits));
    h.headerLength = v3 ? kV3HeaderLength : kV2HeaderLength;
    h.compatible = o.lazyRefcounts ? kCompatLazyRefcounts : 0;
    if (o.extendedL2)
        h.incompatible |= kIncompatExtendedL2;
    if (o.compressionType == "zstd") {
        h.compressionType = uint8_t(CompressionType::Zstd);
        h.incompatible |= kIncompatCompression;
    }
    h.backingFile = o.backingFile;
    h.backingFormat = o.backingFormat;
    if (!o.dataFile.empty()) {
        h.dataFile = o.dataFile;
        h.incompatible |= kIncompatDataFile;
        if (o.dataFileRaw)
            h.autoclear |= kAutoclearDataFileRaw;
    }
    const uint64_t cs = h.clusterSize();
    h.refTableOffset = cs;
    h.refTableClusters = 1;
    const uint64_t coverage = cs * h.l2Entries();
    const uint64_t l1Size = (size + coverage - 1) / coverage;
    if (l1Size > kMaxL1Bytes / 8)
        throwError(EFBIG, path,
                   "The image size is too large for file format 'qcow2' (try using a larger "
                   "cluster size)");

    {
        HostFile f(path, fileNode ? HostFile::Mode::ReadWrite : HostFile::Mode::Create, fileNode);
        std::vector<uint8_t> c0 = serializeHeader(h, path);
        c0.resize(cs, 0);
        std::vector<uint8_t> reftable(cs, 0);
        putBe64(reftable.data(), 2 * cs);
        f.write(0, c0);
        f.write(cs, reftable);
        std::vector<uint64_t> table(cs / 8, 0);
        table[0] = 2 * cs;
        // The first refcount block, counting the header, the table and itself.
        std::vector<uint8_t> block(cs, 0);
        f.write(2 * cs, block);
        Qcow2Refcounts rc(f, h.clusterBits, h.refcountOrder, table, cs, 1,
                          [&](uint64_t off, uint32_t n) {
                              h.refTableOffset = off;
                              h.refTableClusters = n;
                          });
        rc.increment(0, 3);
        if (l1Size) {
            uint64_t l1Clusters = (l1Size * 8 + cs - 1) / cs;
            h.l1Offset = rc.allocate(l1Clusters) * cs;
            std::vector<uint8_t> l1(l1Size * 8, 0);
            f.write(h.l1Offset, l1);
        }
        h.l1Size = uint32_t(l1Size);
        h.size = size;
        std::vector<uint8_t> hdr = serializeHeader(h, path);
        f.write(0, hdr);
        f.sync();
    }
    // A raw data file is mapped whole from the start (QEMU does the same), so that every
    // cluster reads from it.
    Preallocation prealloc = o.preallocation;
    if (o.dataFileRaw && prealloc == Preallocation::Off)
        prealloc = Preallocation::Metadata;
    if (prealloc != Preallocation::Off) {
        OpenOptions oo;
        oo.format = "qcow2";
        oo.readOnly = false;
        oo.openBacking = false;
        oo.fileNode = fileNode;
        Qcow2Driver d(path, oo);
        // As QEMU, which gives the new image its size (and preallocates) by resizing it.
        try {
            d.preallocate(prealloc);
            d.flush();
        } catch (const BlockError& e) {
            std::string reason = e.what();
            if (reason.rfind(path + ": ", 0) == 0)
                reason.erase(0, path.size() + 2);
            throwError(e.errnoValue(), path, "Could not resize image: " + reason);
        }
    }
}

} // namespace e2kvm::block

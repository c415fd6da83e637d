// Qcow2Image::create: writes a fresh qcow2 image laid out as `qemu-img create` lays it out
// (header, refcount table, one refcount block, L1 table), then preallocates if asked.
#include "Qcow2Driver.h"
#include "Qcow2Format.h"
#include "Qcow2Header.h"
#include "Qcow2Image.h"
#include "Qcow2Refcounts.h"

#include <bit>

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
            "(use compat=1.1 or greater)");
    if (!v3 && o.lazyRefcounts)
        throwError(EINVAL, path,
                   "Lazy refcounts only supported with compatibility level 1.1 and above "
                   "(use compat=1.1 or greater)");
    if (!o.dataFile.empty() || o.dataFileRaw)
        throwError(ENOTSUP, path, "external data files are not supported yet");
    if (o.extendedL2)
        throwError(ENOTSUP, path, "extended L2 entries are not supported yet");
    if (!o.compressionType.empty() && o.compressionType != "zlib")
        throwError(ENOTSUP, path, "compression type '" + o.compressionType + "' is not supported");
    if (!o.backingFile.empty() && o.preallocation != Preallocation::Off)
        throwError(EINVAL, path,
                   "Backing file and preallocation can only be used at the same time if "
                   "extended_l2 is on");
    if (o.backingFile.empty() && !o.backingFormat.empty())
        throwError(EINVAL, path, "Backing format cannot be used without backing file");
    if (o.backingFile.size() > kMaxBackingNameLength)
        throwError(EINVAL, path, "Backing file name too long");
}

} // namespace

void Qcow2Image::create(const std::string& path, const CreateOptions& o) {
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
        size = openImage(resolveBackingPath(path, o.backingFile), bo)->size();
    }
    if (size % 512)
        throwError(EINVAL, path, "Image size must be a multiple of 512 bytes");

    Qcow2Header h;
    h.version = v3 ? 3 : 2;
    h.clusterBits = uint32_t(std::countr_zero(o.clusterSize));
    h.refcountOrder = uint32_t(std::countr_zero(o.refcountBits));
    h.headerLength = v3 ? kV3HeaderLength : kV2HeaderLength;
    h.compatible = o.lazyRefcounts ? kCompatLazyRefcounts : 0;
    h.backingFile = o.backingFile;
    h.backingFormat = o.backingFormat;
    const uint64_t cs = h.clusterSize();
    h.refTableOffset = cs;
    h.refTableClusters = 1;
    const uint64_t coverage = cs * h.l2Entries();
    const uint64_t l1Size = (size + coverage - 1) / coverage;
    if (l1Size > kMaxL1Bytes / 8)
        throwError(EFBIG, path, "Image is too big for cluster size " + std::to_string(cs));

    {
        HostFile f(path, HostFile::Mode::Create);
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
    if (o.preallocation != Preallocation::Off) {
        OpenOptions oo;
        oo.format = "qcow2";
        oo.readOnly = false;
        oo.openBacking = false;
        Qcow2Driver d(path, oo);
        d.preallocate(o.preallocation);
        d.flush();
    }
}

} // namespace e2kvm::block

#include "nbd/BlockStatus.h"

#include "block/ChainStatus.h"
#include "nbd/Protocol.h"

#include <algorithm>

namespace e2kvm::nbd {

namespace {

void append(std::vector<StatusExtent>& out, uint64_t length, uint32_t flags) {
    if (!out.empty() && out.back().flags == flags) {
        out.back().length += uint32_t(length);
        return;
    }
    out.push_back({uint32_t(length), flags});
}

// A dirty bitmap answers from one consistent look (one lock) at the bitmap; bytes past its
// disk size (the export was resized) are clean.
std::vector<StatusExtent> bitmapExtents(const block::DirtyBitmap& bm, uint64_t offset,
                                        uint32_t length, size_t maxExtents) {
    std::vector<StatusExtent> out;
    uint64_t end = offset + length;
    uint64_t limit = std::min(end, bm.diskSize());
    if (offset < limit) {
        for (const block::DirtyExtent& e : bm.extents(offset, limit - offset, maxExtents)) {
            uint32_t flags = e.dirty ? StateDirty : 0;
            if (out.empty() || out.back().flags != flags) {
                if (out.size() >= maxExtents)
                    return out;
            }
            append(out, e.length, flags);
        }
        uint64_t covered = 0;
        for (const StatusExtent& e : out)
            covered += e.length;
        if (offset + covered < limit)
            return out; // maxExtents reached inside the bitmap
    }
    if (limit < end && (out.empty() || out.back().flags == 0 || out.size() < maxExtents))
        append(out, end - std::max(offset, limit), 0);
    return out;
}

} // namespace

std::vector<StatusExtent> contextExtents(const Export& exp, const MetaContext& ctx, uint64_t offset,
                                         uint32_t length, size_t maxExtents) {
    if (ctx.kind == ContextKind::DirtyBitmap)
        return bitmapExtents(*exp.config().bitmaps[ctx.bitmapIndex].bitmap, offset, length,
                             std::max<size_t>(maxExtents, 1));
    std::vector<StatusExtent> out;
    uint64_t end = offset + length;
    uint64_t pos = offset;
    while (pos < end) {
        uint64_t len = 0;
        uint32_t flags = 0;
        switch (ctx.kind) {
        case ContextKind::BaseAllocation:
        case ContextKind::AllocationDepth: {
            block::ChainExtent e = block::chainStatus(exp.image(), pos, end - pos);
            len = std::min(e.length, end - pos);
            if (ctx.kind == ContextKind::BaseAllocation)
                flags = (e.data ? 0 : StateHole) | (e.zero ? StateZero : 0);
            else
                flags = e.present ? uint32_t(e.depth + 1) : 0;
            break;
        }
        case ContextKind::DirtyBitmap:
            break; // handled by bitmapExtents
        }
        if (len == 0)
            len = end - pos; // defensive: never loop forever
        bool merges = !out.empty() && out.back().flags == flags;
        if (!merges && out.size() >= maxExtents)
            break;
        append(out, len, flags);
        pos += len;
    }
    return out;
}

std::vector<ReadSegment> readSegments(block::BlockDriver& image, uint64_t offset, uint64_t length) {
    std::vector<ReadSegment> out;
    uint64_t end = offset + length;
    uint64_t pos = offset;
    while (pos < end) {
        block::ChainExtent e = block::chainStatus(image, pos, end - pos);
        uint64_t len = std::min(e.length, end - pos);
        if (len == 0)
            len = end - pos;
        bool zero = e.zero && !e.data;
        int fd = -1;
        uint64_t host = 0;
        if (!zero && e.hostOffset && e.layer) {
            fd = e.layer->directReadFd();
            host = *e.hostOffset;
        }
        ReadSegment* last = out.empty() ? nullptr : &out.back();
        // Data segments merge only where the host bytes continue too.
        bool extends =
            last && last->zero == zero &&
            (zero || (last->hostFd == fd && (fd < 0 || last->hostOffset + last->length == host)));
        if (extends) {
            last->length += len;
        } else {
            ReadSegment s;
            s.offset = pos;
            s.length = len;
            s.zero = zero;
            s.hostFd = fd;
            s.hostOffset = host;
            out.push_back(s);
        }
        pos += len;
    }
    return out;
}

} // namespace e2kvm::nbd

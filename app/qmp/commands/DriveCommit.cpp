#include "app/qmp/commands/DriveCommit.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/job/LayersAbove.h"
#include "block/qcow2/Qcow2Driver.h"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace e2kvm::qmp {

namespace {

constexpr uint64_t kCommitStep = 2 << 20; // QEMU's COMMIT_BUF_SIZE

// Another instance of `base` (the backing file as the chain opened it, read-only): writable
// for the copy, or read-only again for the chain afterwards (its caches then see the copy).
std::shared_ptr<block::BlockDriver> reopen(const block::BlockDriver& base, bool writable) {
    block::OpenOptions o;
    o.format = base.formatName();
    o.readOnly = !writable;
    // The chain's instance keeps the file's locks; the writer, of the same process, must not
    // conflict with them (QEMU reopens its one node read-write instead).
    o.locking = !writable;
    if (auto* q = dynamic_cast<const block::qcow2::Qcow2Driver*>(&base)) {
        if (auto below = q->backingImage())
            o.backingNode = below;
        else
            o.openBacking = false;
    }
    return std::shared_ptr<block::BlockDriver>(block::openImage(base.filename(), std::move(o)));
}

} // namespace

int commitDriveLayer(QmpContext& ctx, const vm::BlockNode& node) {
    auto top = std::dynamic_pointer_cast<block::qcow2::Qcow2Driver>(node.image);
    std::shared_ptr<block::BlockDriver> base = top ? top->backingImage() : nullptr;
    if (!base)
        return ENOTSUP;
    if (!ctx.jobs.nodeBusyWith(node.name).empty())
        return EBUSY;
    for (const auto& other : ctx.nodes.list())
        if (other->image == base && !ctx.jobs.nodeBusyWith(other->name).empty())
            return EBUSY;
    const bool ownWriter = base->readOnly();
    try {
        std::shared_ptr<block::BlockDriver> writer = ownWriter ? reopen(*base, true) : base;
        const uint64_t size = top->size();
        if (writer->size() < size)
            writer->truncate(size); // as QEMU, a smaller backing file grows to the top's size
        std::vector<uint8_t> buf;
        for (uint64_t pos = 0; pos < size;) {
            block::LayersExtent e =
                block::layersAbove(*top, base.get(), pos, std::min(kCommitStep, size - pos), true);
            if (e.length == 0)
                break;
            if (e.allocated) {
                buf.resize(size_t(e.length));
                top->read(pos, buf);
                writer->write(pos, buf);
            }
            pos += e.length;
        }
        writer->flush();
        top->discardAllClusters();
        top->flush();
        if (ownWriter) {
            writer.reset();
            // The chain reads the backing file through a fresh instance, which sees the copy;
            // a node of the table on the old instance moves along.
            std::shared_ptr<block::BlockDriver> fresh = reopen(*base, false);
            top->replaceBacking(fresh);
            for (const auto& other : ctx.nodes.list())
                if (other->image == base)
                    other->image = fresh;
        }
    } catch (const block::BlockError& e) {
        return e.errnoValue() ? e.errnoValue() : EIO;
    } catch (const std::exception&) {
        return EIO;
    }
    return 0;
}

} // namespace e2kvm::qmp

#include "StreamJob.h"

#include "block/ImageOpen.h"
#include "block/job/LayersAbove.h"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace e2kvm::block {

namespace {
constexpr uint64_t kStep = 512 * 1024; // QEMU's stream chunk
} // namespace

StreamJob::StreamJob(StreamSpec spec)
    : Job(spec.id, "stream", spec.autoFinalize, spec.autoDismiss), spec_(std::move(spec)) {
    presetSpeed(spec_.speed);
}

StreamJob::~StreamJob() {
    joinThread();
}

void StreamJob::populate(uint64_t offset, uint64_t length) {
    std::vector<uint8_t> buf(static_cast<size_t>(length));
    spec_.top->read(offset, buf);
    // Only where the top layer is still unallocated when the copy lands: a guest write that
    // came between the read and now keeps its data.
    writer_->populate(offset, buf);
}

namespace {
// Another instance of a qcow2 layer, over the same backing image: writable for the job's
// copy (without the file's locks, which the read-only instance holds), or read-only.
std::shared_ptr<qcow2::Qcow2Driver> reopenLayer(const qcow2::Qcow2Driver& layer, bool writable,
                                                std::shared_ptr<BlockDriver> backing) {
    OpenOptions o;
    o.format = "qcow2";
    o.readOnly = !writable;
    o.locking = !writable;
    if (backing)
        o.backingNode = std::move(backing);
    else
        o.openBacking = false;
    auto image = std::shared_ptr<BlockDriver>(openImage(layer.filename(), std::move(o)));
    return std::dynamic_pointer_cast<qcow2::Qcow2Driver>(image);
}
} // namespace

std::shared_ptr<BlockDriver> StreamJob::currentBase() const {
    return spec_.aboveBase ? spec_.aboveBase->backingImage() : spec_.base;
}

void StreamJob::run() {
    writer_ = spec_.top->readOnly() ? reopenLayer(*spec_.top, true, spec_.top->backingImage())
                                    : spec_.top;
    if (!writer_)
        throw BlockError(EINVAL, "the layer could not be opened for writing");
    const uint64_t size = spec_.top->size();
    setTotal(size);
    int ignoredError = 0;
    for (uint64_t pos = 0; pos < size;) {
        if (!checkpoint())
            return;
        LayersExtent e;
        try {
            e = layersAbove(*spec_.top, currentBase().get(), pos, std::min(kStep, size - pos),
                            false);
            // The top layer's own data stays.
            if (e.allocated) {
                LayerExtent own = spec_.top->layerStatus(pos, e.length);
                if (own.kind != Allocation::Unallocated) {
                    e.length = own.length;
                    e.allocated = false;
                }
            }
            if (e.allocated)
                populate(pos, e.length);
        } catch (const BlockError& err) {
            // A failed read and a failed write alike go by on-error (QEMU cannot tell them
            // apart in a copy-on-read either: both count as reads).
            if (!actOnError(spec_.onError, err.errnoValue(), false))
                return;
            if (spec_.onError == ErrorPolicy::Ignore) {
                // As QEMU's stream: the range is skipped, and the job fails with the error at
                // the end (the chain then stays as it is).
                ignoredError = err.errnoValue();
                uint64_t skip = e.length ? e.length : std::min(kStep, size - pos);
                pos += skip;
                addProgress(skip);
            }
            continue;
        }
        pos += e.length;
        addProgress(e.length);
        if (!checkpoint(e.allocated ? e.length : 0))
            return;
    }
    writer_->flush();
    if (ignoredError)
        throw BlockError(ignoredError, spec_.top->filename());
}

void StreamJob::commit() {
    if (spec_.relinkGuard)
        spec_.relinkGuard([this] { relink(); });
    else
        relink();
}

void StreamJob::relink() {
    std::shared_ptr<BlockDriver> base = currentBase();
    std::string name = spec_.backingFile.value_or(base ? base->filename() : std::string());
    std::string format = base ? base->formatName() : std::string();
    std::shared_ptr<BlockDriver> newTop = spec_.top;
    try {
        if (writer_ == spec_.top) {
            // As QEMU's stream: the new backing link first, then the name in the header.
            spec_.top->replaceBacking(base);
            spec_.top->changeBackingFile(name, format);
        } else {
            writer_->changeBackingFile(name, format);
            writer_.reset();
            newTop = reopenLayer(*spec_.top, false, base);
            if (spec_.overlay)
                spec_.overlay->replaceBacking(newTop);
        }
    } catch (const std::exception&) {
        // The header keeps the old name, which still leads to the same data (the copied
        // layers are unchanged); the chain stays as it was where the switch failed.
        return;
    }
    if (spec_.afterRelink)
        spec_.afterRelink(newTop, base);
}

void StreamJob::clean() {
    writer_.reset();
    spec_.top.reset();
    spec_.overlay.reset();
    spec_.base.reset();
    spec_.aboveBase.reset();
    spec_.afterRelink = nullptr;
    spec_.relinkGuard = nullptr;
}

} // namespace e2kvm::block

#include "CommitJob.h"

#include "block/ImageOpen.h"
#include "block/job/LayersAbove.h"

#include <algorithm>
#include <vector>

namespace e2kvm::block {

namespace {
constexpr uint64_t kStep = 512 * 1024; // QEMU's commit buffer
} // namespace

void renameBackingFile(qcow2::Qcow2Driver& overlay, const std::string& name,
                       const std::string& format) {
    if (!overlay.readOnly()) {
        overlay.changeBackingFile(name, format);
        return;
    }
    OpenOptions o;
    o.format = "qcow2";
    o.readOnly = false;
    o.locking = false;
    o.openBacking = false;
    std::unique_ptr<BlockDriver> writer = openImage(overlay.filename(), std::move(o));
    auto* q = dynamic_cast<qcow2::Qcow2Driver*>(writer.get());
    if (!q)
        throw BlockError(EINVAL, overlay.filename() + ": not a qcow2 image any more");
    q->changeBackingFile(name, format);
    writer.reset();
    overlay.noteBackingFileChanged(name, format);
}

CommitJob::CommitJob(CommitSpec spec)
    : Job(spec.id, "commit", spec.autoFinalize, spec.autoDismiss), spec_(std::move(spec)) {
    presetSpeed(spec_.speed);
}

CommitJob::~CommitJob() {
    joinThread();
}

std::shared_ptr<BlockDriver> CommitJob::reopenBase(bool writable) const {
    OpenOptions o;
    o.format = spec_.base->formatName();
    o.readOnly = !writable;
    // The instance the chain reads keeps the file's locks; this one, of the same process,
    // must not conflict with them (QEMU reopens its one node read-write instead).
    o.locking = !writable;
    if (auto* q = dynamic_cast<qcow2::Qcow2Driver*>(spec_.base.get())) {
        if (auto below = q->backingImage())
            o.backingNode = below;
        else
            o.openBacking = false;
    }
    return std::shared_ptr<BlockDriver>(openImage(spec_.base->filename(), std::move(o)));
}

void CommitJob::run() {
    const uint64_t size = spec_.top->size();
    setTotal(size);
    // A base opened writable (a drive's former active layer) is written as it is; one opened
    // read-only as a backing file through an instance of the job's own.
    const bool ownWriter = spec_.base->readOnly();
    writer_ = ownWriter ? reopenBase(true) : spec_.base;
    if (writer_->size() < size)
        writer_->truncate(size); // as QEMU, a smaller base grows to the top's size
    std::vector<uint8_t> buf;
    for (uint64_t pos = 0; pos < size;) {
        if (!checkpoint())
            return;
        LayersExtent e;
        bool writing = false;
        try {
            e = layersAbove(*spec_.top, spec_.base.get(), pos, std::min(kStep, size - pos), true);
            if (e.allocated) {
                buf.resize(size_t(e.length));
                spec_.top->read(pos, buf);
                writing = true;
                writer_->write(pos, buf);
            }
        } catch (const BlockError& err) {
            if (!actOnError(spec_.onError, err.errnoValue(), writing))
                return;
            continue;
        }
        pos += e.length;
        addProgress(e.length);
        if (!checkpoint(e.allocated ? e.length : 0))
            return;
    }
    writer_->flush();
    writer_.reset();
    newBase_ = ownWriter ? reopenBase(false) : spec_.base;
}

void CommitJob::commit() {
    // The overlay reads the base from now on, and its header says so.
    if (!spec_.overlayInChain || spec_.overlayInChain()) {
        spec_.overlay->replaceBacking(newBase_);
        try {
            renameBackingFile(*spec_.overlay, spec_.backingFile, spec_.backingFormat);
        } catch (const BlockError&) {
            // The header keeps naming the old top, whose data the base now holds too.
        }
    }
    if (spec_.afterRelink)
        spec_.afterRelink(newBase_);
}

void CommitJob::clean() {
    writer_.reset();
    spec_.top.reset();
    spec_.base.reset();
    spec_.overlay.reset();
    spec_.afterRelink = nullptr;
    spec_.overlayInChain = nullptr;
    newBase_.reset();
}

} // namespace e2kvm::block

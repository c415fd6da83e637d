#include "ActiveCommitJob.h"

#include "block/ImageOpen.h"
#include "block/job/LayersAbove.h"
#include "block/qcow2/Qcow2Driver.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

namespace e2kvm::block {

namespace {
constexpr uint64_t kGranularity = 65536;
constexpr uint64_t kStep = 1 << 20;

// The base opened writable for the job (a base opened read-only as a backing file); it does
// not take the file's locks, which the read-only instance in the chain holds.
std::shared_ptr<BlockDriver> writableBase(const std::shared_ptr<BlockDriver>& base) {
    if (!base->readOnly())
        return base;
    OpenOptions o;
    o.format = base->formatName();
    o.readOnly = false;
    o.locking = false;
    if (auto* q = dynamic_cast<qcow2::Qcow2Driver*>(base.get())) {
        if (auto below = q->backingImage())
            o.backingNode = below;
        else
            o.openBacking = false;
    }
    return std::shared_ptr<BlockDriver>(openImage(base->filename(), std::move(o)));
}
} // namespace

// Marks what the guest writes to the top as still to copy.
class ActiveCommitJob::ChangeRecorder final : public WriteObserver {
public:
    explicit ChangeRecorder(std::shared_ptr<DirtyBitmap> dirty) : dirty_(std::move(dirty)) {}
    void contentsChanged(uint64_t offset, uint64_t length) override {
        uint64_t end = std::min(offset + length, dirty_->diskSize());
        if (offset < end)
            dirty_->set(offset, end - offset);
    }

private:
    std::shared_ptr<DirtyBitmap> dirty_;
};

ActiveCommitJob::ActiveCommitJob(ActiveCommitSpec spec)
    : Job(spec.id, "commit", spec.autoFinalize, spec.autoDismiss), spec_(std::move(spec)) {
    presetSpeed(spec_.speed);
}

ActiveCommitJob::~ActiveCommitJob() {
    joinThread();
    detach();
}

uint64_t ActiveCommitJob::copyDirty(uint64_t maxBytes, bool* writeFailed) {
    const uint64_t size = dirty_->diskSize();
    std::optional<uint64_t> first = dirty_->nextDirty(0, size);
    if (!first)
        return 0;
    uint64_t limit = std::min(size, *first + maxBytes);
    uint64_t end = dirty_->nextClean(*first, limit).value_or(limit);
    uint64_t length = end - *first;
    dirty_->reset(*first, length); // writes that come meanwhile mark it again
    bool writing = false;
    try {
        std::vector<uint8_t> buf(static_cast<size_t>(length));
        spec_.top->read(*first, buf);
        writing = true;
        writer_->write(*first, buf);
    } catch (...) {
        if (writeFailed)
            *writeFailed = writing;
        dirty_->set(*first, length);
        throw;
    }
    return length;
}

void ActiveCommitJob::run() {
    writer_ = writableBase(spec_.base);
    const uint64_t size = spec_.top->size();
    if (writer_->size() < size)
        writer_->truncate(size); // as QEMU, a smaller base grows to the top's size
    dirty_ = std::make_shared<DirtyBitmap>(size, kGranularity);
    recorder_ = std::make_shared<ChangeRecorder>(dirty_);
    spec_.top->addWriteObserver(recorder_);
    for (uint64_t pos = 0; pos < size;) {
        LayersExtent e = layersAbove(*spec_.top, spec_.base.get(), pos, size - pos, true);
        if (e.allocated)
            dirty_->set(pos, e.length);
        pos += e.length;
    }
    setTotal(dirty_->dirtyBytes());
    bool ready = false;
    for (;;) {
        if (!checkpoint())
            return;
        uint64_t copied = 0;
        bool writeFailed = false;
        try {
            copied = copyDirty(kStep, &writeFailed);
        } catch (const BlockError& err) {
            if (!actOnError(spec_.onError, err.errnoValue(), writeFailed))
                return;
            continue;
        }
        if (copied) {
            addProgress(copied);
            if (!checkpoint(copied))
                return;
            continue;
        }
        if (!ready) {
            writer_->flush();
            becomeReady();
            ready = true;
        }
        if (completionRequested()) {
            // QEMU's job goes on only after the main loop sent the command's reply: the events
            // of the job's end come after the reply to block-job-complete there. Give the
            // reply that head start here too.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return;
        }
        waitForRequest(std::chrono::milliseconds(50));
    }
}

void ActiveCommitJob::commit() {
    if (!completeRequested()) {
        // A cancel without force of the ready job: the base holds what the top had so far;
        // the drive stays on the top.
        detach();
        return;
    }
    auto finalSync = [this] {
        BlockDriver::ChangesPaused paused(*spec_.top); // no write to the top from now on
        while (copyDirty(kStep)) {
        }
        writer_->flush();
    };
    try {
        if (spec_.pivot)
            spec_.pivot(writer_, finalSync);
        else
            finalSync();
    } catch (const std::exception&) {
        // The job's outcome is decided; a drive that could not be switched stays on the top,
        // which still holds everything.
    }
    detach();
}

void ActiveCommitJob::detach() {
    if (recorder_ && spec_.top)
        spec_.top->removeWriteObserver(recorder_.get());
    recorder_.reset();
}

void ActiveCommitJob::clean() {
    detach();
    writer_.reset();
    dirty_.reset();
    spec_.top.reset();
    spec_.base.reset();
    spec_.pivot = nullptr;
}

} // namespace e2kvm::block

#pragma once
// ActiveCommitJob: QEMU's block-commit of the active layer (job type "commit", a mirror of the
// top into the base underneath). It copies into `base` every range stored in the layers from
// `top` down to `base`, and then, while the guest keeps writing to `top`, what the guest
// changes; once the base has caught up the job is ready. On complete the last changes are
// copied while no request is in flight and the drive is switched over to the base (`pivot`);
// a cancel without force once ready ends the job as completed with the chain unchanged.
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/job/Job.h"

#include <functional>
#include <memory>
#include <string>

namespace e2kvm::block {

struct ActiveCommitSpec {
    std::string id;
    std::shared_ptr<BlockDriver> top;  // the active layer
    std::shared_ptr<BlockDriver> base; // the layer committed into (in top's chain)
    uint64_t speed = 0;
    ErrorPolicy onError = ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
    // After complete (on the job's thread): the users of `top` use `newBase` from now on;
    // `finalSync` is to run once no write can reach the top any more, before they switch.
    std::function<void(std::shared_ptr<BlockDriver> newBase,
                       const std::function<void()>& finalSync)>
        pivot;
};

class ActiveCommitJob final : public Job {
public:
    explicit ActiveCommitJob(ActiveCommitSpec spec);
    ~ActiveCommitJob() override;

protected:
    bool drainsAtStart() const override { return false; }
    bool softCancels() const override { return true; }
    void run() override;
    void commit() override;
    void clean() override;

private:
    class ChangeRecorder;
    // Copies the first run of dirty granules, at most `maxBytes`; returns the bytes copied (0
    // if nothing is dirty). Throws BlockError (the granules stay dirty); `writeFailed`, if
    // given, then says whether the write to the base failed (else the read of the top).
    uint64_t copyDirty(uint64_t maxBytes, bool* writeFailed = nullptr);
    void detach();

    ActiveCommitSpec spec_;
    std::shared_ptr<BlockDriver> writer_; // the base, writable
    std::shared_ptr<DirtyBitmap> dirty_;  // what the base still lacks
    std::shared_ptr<ChangeRecorder> recorder_;
};

} // namespace e2kvm::block

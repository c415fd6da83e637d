#pragma once
// BackupJob: QEMU's backup block job. It makes the target hold the source as it was when the
// job started: in the background (sync full, top, incremental/bitmap) and, as long as it runs,
// by copying the old contents of every cluster the guest is about to change (copy-before-write;
// sync none does only that: a fleecing point in time, ended by cancel). With a bitmap it
// copies only the bitmap's dirty clusters and leaves the bitmap as the bitmap mode says.
#include "block/BlockDriver.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/copy/BlockCopy.h"
#include "block/job/Job.h"

#include <memory>
#include <string>

namespace e2kvm::block {

enum class BackupSync { Full, Top, None, Incremental, Bitmap };
enum class BitmapMode { OnSuccess, Never, Always };

struct BackupSpec {
    std::string id;
    std::shared_ptr<BlockDriver> source, target;
    BackupSync sync = BackupSync::Full;
    std::shared_ptr<DirtyBitmap> bitmap; // incremental/bitmap (or full with a bitmap)
    BitmapMode bitmapMode = BitmapMode::OnSuccess;
    uint64_t speed = 0;
    bool autoFinalize = true, autoDismiss = true;
    bool compress = false; // write the target's clusters compressed (qcow2)
    ErrorPolicy onSourceError = ErrorPolicy::Report, onTargetError = ErrorPolicy::Report;
};

class BackupJob final : public Job {
public:
    // Checks the spec (throws std::runtime_error with QEMU's wording, e.g. "Source and target
    // cannot be the same", "Compression is not supported for this drive t"); nothing is changed
    // yet.
    explicit BackupJob(BackupSpec spec);
    ~BackupJob() override;

    // Takes the point in time: with the source's changes paused, copies the bitmap (which from
    // now on records only the writes that come after), chooses what to copy and puts the copy
    // before the source's writes. Call once, before start().
    void takePointInTime(const BlockDriver::ChangesPaused& paused);

    // The job's images are released once it has finished (clean()).
    const BackupSpec& spec() const { return spec_; }
    // Whether the source's point in time lives in the target through its backing file (the
    // target is a fleecing overlay of the source).
    bool fleecing() const { return fleecing_; }
    // The copy engine (what is still to be copied) and the bitmap as the point in time took it
    // (with a bitmap), for views of a running backup; valid after takePointInTime, kept alive
    // by the caller after the job let go of them.
    std::shared_ptr<BlockCopy> copyEngine() const { return copy_; }
    std::shared_ptr<const DirtyBitmap> takenBitmap() const { return taken_; }

protected:
    void run() override;
    void commit() override;
    void abort() override;
    void clean() override;
    void cancelTargetRequests() override;

private:
    void markTop();
    void detach(); // takes the copy off the source and the guard off the target
    void restoreBitmap(bool onlyUncopied);

    BackupSpec spec_;
    // The target for cancelTargetRequests() (spec_.target is let go of on the job's thread).
    const std::weak_ptr<BlockDriver> cancelTarget_;
    bool fleecing_ = false;
    std::shared_ptr<BlockCopy> copy_;
    std::shared_ptr<DirtyBitmap> taken_; // the bitmap's dirty granules at the point in time
    bool attached_ = false;
};

} // namespace e2kvm::block

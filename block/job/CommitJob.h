#pragma once
// CommitJob: QEMU's block-commit job (type "commit") for a top layer below the active one.
// It copies into `base` every range stored in the layers from `top` down to `base`, then the
// overlay of `top` gets `base` as its backing file (link and header name): the committed
// layers drop out of the chain. A base opened read-only as a backing file is written through
// an instance of its own opened for the job, and at the end the overlay reads the base through
// a fresh read-only instance; a writable base is written and kept as it is.
#include "block/job/Job.h"
#include "block/qcow2/Qcow2Driver.h"

#include <functional>
#include <memory>
#include <string>

namespace e2kvm::block {

struct CommitSpec {
    std::string id;
    std::shared_ptr<BlockDriver> top;            // the uppermost layer committed
    std::shared_ptr<BlockDriver> base;           // the layer committed into (in top's chain)
    std::shared_ptr<qcow2::Qcow2Driver> overlay; // the layer whose backing file `top` is
    // The backing file name and format the overlay's header records at the end.
    std::string backingFile, backingFormat;
    uint64_t speed = 0;
    ErrorPolicy onError = ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
    // Called once the overlay reads from the base (on the job's thread), with the base's new
    // instance: the owner of the committed layers lets go of them.
    std::function<void(std::shared_ptr<BlockDriver> newBase)> afterRelink;
    // If set and false at the end, the overlay has left the chain meanwhile (a stream took it
    // out): it is neither relinked nor renamed.
    std::function<bool()> overlayInChain;
};

// Rewrites the backing file name and format in `overlay`'s header. A read-only overlay (a
// backing layer itself) is written through an instance of its own opened writable for this,
// without the file's locks, which the read-only instance holds (QEMU reopens its one node
// read-write); the read-only one then shows the new names too. Throws BlockError.
void renameBackingFile(qcow2::Qcow2Driver& overlay, const std::string& name,
                       const std::string& format);

class CommitJob final : public Job {
public:
    explicit CommitJob(CommitSpec spec);
    ~CommitJob() override;
    const CommitSpec& spec() const { return spec_; }

protected:
    // QEMU starts this job without draining its nodes: no pause at the start.
    bool drainsAtStart() const override { return false; }
    void run() override;
    void commit() override;
    void clean() override;

private:
    // Opens the base again: writable for the copy, or read-only (and locked) for the overlay.
    std::shared_ptr<BlockDriver> reopenBase(bool writable) const;

    CommitSpec spec_;
    std::shared_ptr<BlockDriver> writer_;
    std::shared_ptr<BlockDriver> newBase_;
};

} // namespace e2kvm::block

#pragma once
// StreamJob: QEMU's block-stream job (type "stream"). It copies into a qcow2 node every range
// that the node leaves to the layers of its backing chain above `base`, then makes `base` the
// node's backing file (the link and the name in the image header; no base: no backing file),
// so that the layers in between are no longer needed.
#include "block/job/Job.h"
#include "block/qcow2/Qcow2Driver.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace e2kvm::block {

struct StreamSpec {
    std::string id;
    // The layer streamed into. One opened read-only (a backing file) is written through an
    // instance of its own opened for the job; its overlay then reads a fresh read-only
    // instance of it.
    std::shared_ptr<qcow2::Qcow2Driver> top;
    std::shared_ptr<qcow2::Qcow2Driver> overlay; // the layer whose backing `top` is, if any
    std::shared_ptr<BlockDriver> base;           // null: the whole chain is copied
    // The layer whose backing `base` is when the job starts (`top` or a layer below it), if
    // any. As QEMU's stream (its "above base"), the job copies down to that layer's backing
    // of the moment and ends with it as the top's backing: a base that a concurrent commit
    // replaced (the base named by that commit's filter) is followed.
    std::shared_ptr<qcow2::Qcow2Driver> aboveBase;
    // The backing file name the header records at the end; by default the base's file name
    // ("" with no base). The format recorded is the base's.
    std::optional<std::string> backingFile;
    uint64_t speed = 0;
    ErrorPolicy onError = ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
    // Called once the top layer reads from the base (on the job's thread), with the instance
    // of the top its overlay reads from now on and the base it ended on: the owner of the
    // layers in between lets go of them.
    std::function<void(std::shared_ptr<BlockDriver> newTop, std::shared_ptr<BlockDriver> base)>
        afterRelink;
    // If set, runs the end of the job (the choice of the base, the switch and afterRelink)
    // under the owner's lock, so that a concurrent change of the chain waits for it.
    std::function<void(const std::function<void()>& relink)> relinkGuard;
};

class StreamJob final : public Job {
public:
    explicit StreamJob(StreamSpec spec);
    ~StreamJob() override;
    const StreamSpec& spec() const { return spec_; }

protected:
    // QEMU starts this job without draining its nodes: no pause at the start.
    bool drainsAtStart() const override { return false; }
    void run() override;
    void commit() override;
    void clean() override;

private:
    // Copies [offset, offset+length) of what the chain shows into the top layer where it is
    // still unallocated (zeros as zero clusters, as QEMU's copy-on-read).
    void populate(uint64_t offset, uint64_t length);
    // The base of the moment (see StreamSpec::aboveBase).
    std::shared_ptr<BlockDriver> currentBase() const;
    void relink();

    StreamSpec spec_;
    std::shared_ptr<qcow2::Qcow2Driver> writer_; // the top, writable
};

} // namespace e2kvm::block

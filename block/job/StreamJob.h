#pragma once
// StreamJob: QEMU's block-stream job (type "stream"). It copies into a qcow2 node every range
// that the node leaves to the layers of its backing chain above `base`, then makes `base` the
// node's backing file (the link and the name in the image header; no base: no backing file),
// so that the layers in between are no longer needed.
#include "block/job/Job.h"
#include "block/qcow2/Qcow2Driver.h"

#include <functional>
#include <memory>
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
    // The backing file name and format the header records at the end ("" with no base).
    std::string backingFile, backingFormat;
    uint64_t speed = 0;
    ErrorPolicy onError = ErrorPolicy::Report;
    bool autoFinalize = true, autoDismiss = true;
    // Called once the top layer reads from `base` (on the job's thread), with the instance of
    // the top its overlay reads from now on: the owner of the layers in between lets go of
    // them.
    std::function<void(std::shared_ptr<BlockDriver> newTop)> afterRelink;
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

    StreamSpec spec_;
    std::shared_ptr<qcow2::Qcow2Driver> writer_; // the top, writable
};

} // namespace e2kvm::block

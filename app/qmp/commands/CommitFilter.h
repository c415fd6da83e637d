#pragma once
// CommitFilter: the node that a block-commit job's filter-node-name names while the job runs
// (QEMU's "commit_top" node over the commit's top layer). Requests pass to the top layer. The
// images of the chain do not link through it: a block-stream that names it as its base links
// its top layer to the commit's top and attaches that layer here, and when the commit has
// moved the chain onto its base the attached layers follow, as QEMU moves every parent of the
// filter onto the base.
#include "block/filter/PassThroughFilter.h"
#include "block/qcow2/Qcow2Driver.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::qmp {

class CommitFilter final : public block::PassThroughFilter {
public:
    // A layer whose backing is the commit's top through this filter.
    struct Attached {
        std::string nodeName; // its table node
        std::shared_ptr<block::qcow2::Qcow2Driver> layer;
    };

    // `overlay`: the layer above the top when the commit starts, the filter's first parent.
    CommitFilter(std::shared_ptr<block::BlockDriver> top, const block::BlockDriver* overlay);
    ~CommitFilter() override;
    // Whether a running commit's filter stands between `overlay` and its backing `top` (as
    // QEMU's graph has it: the name QMP shows for the overlay counts the filter in).
    static bool standsBetween(const block::BlockDriver* overlay, const block::BlockDriver* top);
    std::string formatName() const override { return "commit_top"; }

    // Runs `f` under the filter's lock (which `f` may take again); attach, retired, retire and
    // dropParent are called only inside.
    void locked(const std::function<void()>& f);
    void attach(Attached a);
    // Whether the commit has moved the chain onto its base already.
    bool retired() const { return retired_; }
    // A stream took `layer` out of the chain: if it is the overlay, the commit leaves it be.
    void dropParent(const block::BlockDriver* layer);
    bool overlayDropped() const { return overlay_ == nullptr; }
    // Whether `layer` links to the commit's top through the filter.
    bool isAttached(const block::BlockDriver* layer);
    // The commit is done: the layers attached so far, which now belong on the base.
    std::vector<Attached> retire();

private:
    std::recursive_mutex mutex_; // a stream relinks under it and then drops parents
    bool retired_ = false;
    const block::BlockDriver* overlay_;
    std::vector<Attached> attached_;
};

} // namespace e2kvm::qmp

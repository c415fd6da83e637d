#include "app/qmp/commands/CommitFilter.h"

#include <algorithm>

namespace e2kvm::qmp {

namespace {
// The filters that exist, for standsBetween.
std::mutex liveMutex;
std::vector<CommitFilter*> live;
} // namespace

CommitFilter::CommitFilter(std::shared_ptr<block::BlockDriver> top,
                           const block::BlockDriver* overlay)
    : PassThroughFilter(std::move(top)), overlay_(overlay) {
    std::lock_guard lock(liveMutex);
    live.push_back(this);
}

CommitFilter::~CommitFilter() {
    std::lock_guard lock(liveMutex);
    std::erase(live, this);
}

bool CommitFilter::standsBetween(const block::BlockDriver* overlay, const block::BlockDriver* top) {
    std::lock_guard lock(liveMutex);
    for (CommitFilter* f : live) {
        std::lock_guard own(f->mutex_);
        if (!f->retired_ && f->overlay_ == overlay && f->file().get() == top)
            return true;
    }
    return false;
}

void CommitFilter::locked(const std::function<void()>& f) {
    std::lock_guard lock(mutex_);
    f();
}

void CommitFilter::attach(Attached a) {
    attached_.push_back(std::move(a));
}

void CommitFilter::dropParent(const block::BlockDriver* layer) {
    if (layer == overlay_)
        overlay_ = nullptr;
    std::erase_if(attached_, [&](const Attached& a) { return a.layer.get() == layer; });
}

bool CommitFilter::isAttached(const block::BlockDriver* layer) {
    std::lock_guard lock(mutex_);
    if (retired_)
        return false;
    return std::any_of(attached_.begin(), attached_.end(),
                       [&](const Attached& a) { return a.layer.get() == layer; });
}

std::vector<CommitFilter::Attached> CommitFilter::retire() {
    retired_ = true;
    return std::move(attached_);
}

} // namespace e2kvm::qmp

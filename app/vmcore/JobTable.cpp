#include "app/vmcore/JobTable.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::vm {

JobTable::JobTable(BlockNodeTable& nodes) : nodes_(nodes) {}

JobTable::~JobTable() {
    std::vector<std::shared_ptr<block::Job>> jobs = list();
    for (auto& job : jobs) {
        try {
            job->cancel();
        } catch (const std::exception&) {
            // pending, concluded: nothing to cancel
        }
        job->waitConcluded(std::chrono::seconds(30));
    }
    std::vector<Entry> entries;
    std::vector<std::shared_ptr<block::Job>> dismissed;
    {
        std::lock_guard lock(mutex_);
        listeners_.clear();
        entries.swap(entries_);
        dismissed.swap(dismissed_);
    }
    // Destroying them waits for their threads, which may still be reporting to this table.
}

void JobTable::checkIdFree(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.job->id() == id)
            throw std::runtime_error("Job ID '" + id + "' already in use");
}

void JobTable::waitForEndingJobs(std::chrono::milliseconds limit) const {
    std::unique_lock lock(mutex_);
    endingSettled_.wait_for(lock, limit, [&] {
        return std::none_of(entries_.begin(), entries_.end(),
                            [](const Entry& e) { return e.ending; });
    });
}

void JobTable::start(std::shared_ptr<block::Job> job, JobUse use) {
    std::vector<std::shared_ptr<block::Job>> dismissed; // joined below, outside the lock
    {
        std::lock_guard lock(mutex_);
        dismissed.swap(dismissed_);
        for (const std::string& n : use.nodes)
            nodes_.setUser(n, "block job: " + job->info().type, true);
        entries_.push_back({job, std::move(use), true});
    }
    job->start([this](const block::JobEvent& e) { onEvent(e); });
}

void JobTable::onEvent(const block::JobEvent& e) {
    std::vector<std::function<void(const block::JobEvent&)>> cbs;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const Entry& en) { return en.job->id() == e.info.id; });
        // A job lets go of its nodes and bitmaps before its end is reported (its images are
        // released by then), as QEMU's.
        bool ended = e.kind == block::JobEvent::Completed || e.kind == block::JobEvent::Cancelled ||
                     (e.kind == block::JobEvent::StatusChange &&
                      (e.info.status == block::JobStatus::Concluded ||
                       e.info.status == block::JobStatus::Null));
        if (it != entries_.end() && ended && it->holding) {
            it->holding = false;
            for (const std::string& n : it->use.nodes)
                nodes_.setUser(n, "block job: " + e.info.type, false);
        }
        if (it != entries_.end() &&
            (e.kind == block::JobEvent::Completed || e.kind == block::JobEvent::Cancelled))
            it->ending = true;
        if (it != entries_.end() && e.kind == block::JobEvent::StatusChange) {
            if (e.info.status == block::JobStatus::Concluded && !e.info.autoDismiss) {
                it->ending = false;
                endingSettled_.notify_all();
            }
            if (e.info.status == block::JobStatus::Null) {
                dismissed_.push_back(it->job);
                entries_.erase(it);
                endingSettled_.notify_all();
            }
        }
        for (auto& [h, cb] : listeners_)
            cbs.push_back(cb);
    }
    for (auto& cb : cbs)
        cb(e);
}

void JobTable::abandon(const std::shared_ptr<block::Job>& job) {
    job->reportAbandoned([this](const block::JobEvent& e) { onEvent(e); });
}

void JobTable::failEarly(const std::shared_ptr<block::Job>& job) {
    job->reportFailedEarly([this](const block::JobEvent& e) { onEvent(e); });
}

std::shared_ptr<block::Job> JobTable::find(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.job->id() == id)
            return e.job;
    return nullptr;
}

std::vector<std::shared_ptr<block::Job>> JobTable::list() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<block::Job>> out;
    for (const Entry& e : entries_)
        out.push_back(e.job);
    return out;
}

std::string JobTable::nodeBusyWith(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.holding &&
            std::find(e.use.nodes.begin(), e.use.nodes.end(), nodeName) != e.use.nodes.end())
            return e.job->info().type;
    return {};
}

std::vector<std::shared_ptr<block::Job>> JobTable::jobsUsing(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<block::Job>> out;
    for (const Entry& e : entries_)
        if (e.holding &&
            std::find(e.use.nodes.begin(), e.use.nodes.end(), nodeName) != e.use.nodes.end())
            out.push_back(e.job);
    return out;
}

bool JobTable::bitmapBusy(const std::string& nodeName, const std::string& bitmap) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.holding && std::find(e.use.bitmaps.begin(), e.use.bitmaps.end(),
                                   std::make_pair(nodeName, bitmap)) != e.use.bitmaps.end())
            return true;
    return false;
}

std::vector<BackupBitmaps> JobTable::backupBitmaps(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    std::vector<BackupBitmaps> out;
    for (const Entry& e : entries_)
        if (e.holding && e.use.backup && e.use.backup->sourceNode == nodeName)
            out.push_back(*e.use.backup);
    return out;
}

int JobTable::addListener(std::function<void(const block::JobEvent&)> cb) {
    std::lock_guard lock(mutex_);
    listeners_[nextListener_] = std::move(cb);
    return nextListener_++;
}

void JobTable::removeListener(int handle) {
    std::lock_guard lock(mutex_);
    listeners_.erase(handle);
}

} // namespace e2kvm::vm

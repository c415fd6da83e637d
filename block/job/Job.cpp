#include "Job.h"

#include "block/BlockError.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace e2kvm::block {

namespace {
// How long a job resumed by its cancel waits before it aborts (the command's reply goes first).
constexpr std::chrono::milliseconds kAfterCancelResume{50};
} // namespace

const char* jobStatusName(JobStatus status) {
    switch (status) {
    case JobStatus::Undefined:
        return "undefined";
    case JobStatus::Created:
        return "created";
    case JobStatus::Running:
        return "running";
    case JobStatus::Paused:
        return "paused";
    case JobStatus::Ready:
        return "ready";
    case JobStatus::Standby:
        return "standby";
    case JobStatus::Waiting:
        return "waiting";
    case JobStatus::Pending:
        return "pending";
    case JobStatus::Aborting:
        return "aborting";
    case JobStatus::Concluded:
        return "concluded";
    case JobStatus::Null:
        return "null";
    }
    return "undefined";
}

const char* jobVerbName(JobVerb verb) {
    switch (verb) {
    case JobVerb::Cancel:
        return "cancel";
    case JobVerb::Pause:
        return "pause";
    case JobVerb::Resume:
        return "resume";
    case JobVerb::SetSpeed:
        return "set-speed";
    case JobVerb::Complete:
        return "complete";
    case JobVerb::Finalize:
        return "finalize";
    case JobVerb::Dismiss:
        return "dismiss";
    }
    return "";
}

Job::Job(std::string id, std::string type, bool autoFinalize, bool autoDismiss)
    : id_(std::move(id)), type_(std::move(type)) {
    info_.id = id_;
    info_.type = type_;
    info_.autoFinalize = autoFinalize;
    info_.autoDismiss = autoDismiss;
}

Job::~Job() {
    joinThread();
}

void Job::presetSpeed(uint64_t bytesPerSecond) {
    std::lock_guard lock(mutex_);
    info_.speed = bytesPerSecond;
}

void Job::joinThread() {
    if (!thread_.joinable())
        return;
    // The last reference may go on the job's own thread (its listener dropped the job).
    if (thread_.get_id() == std::this_thread::get_id())
        thread_.detach();
    else
        thread_.join();
}

JobInfo Job::info() const {
    std::lock_guard lock(mutex_);
    return info_;
}

JobStatus Job::status() const {
    std::lock_guard lock(mutex_);
    return info_.status;
}

void Job::setStatus(JobStatus status) {
    {
        std::lock_guard lock(mutex_);
        info_.status = status;
        info_.busy = status == JobStatus::Running || status == JobStatus::Ready;
    }
    wake_.notify_all();
    report(JobEvent::StatusChange);
}

void Job::report(JobEvent::Kind kind, bool writeError, const char* action) {
    JobEvent e;
    e.kind = kind;
    e.writeError = writeError;
    e.action = action;
    e.info = info();
    if (listener_)
        listener_(e);
}

void Job::start(Listener listener) {
    listener_ = std::move(listener);
    setStatus(JobStatus::Created);
    setStatus(JobStatus::Running);
    // Like QEMU's, a new job pauses once while the nodes it works on are drained.
    if (drainsAtStart()) {
        setStatus(JobStatus::Paused);
        setStatus(JobStatus::Running);
    }
    {
        std::lock_guard lock(mutex_);
        windowStart_ = std::chrono::steady_clock::now();
        windowBytes_ = 0;
    }
    thread_ = std::thread([this] { thread(); });
}

void Job::joinGroup(std::shared_ptr<JobGroup> group) {
    group->add(this);
    group_ = std::move(group);
}

void Job::reportAbandoned(Listener listener) {
    listener_ = std::move(listener);
    for (JobStatus s :
         {JobStatus::Created, JobStatus::Aborting, JobStatus::Concluded, JobStatus::Null})
        setStatus(s);
}

void Job::reportFailedEarly(Listener listener) {
    listener_ = std::move(listener);
    for (JobStatus s : {JobStatus::Created, JobStatus::Null})
        setStatus(s);
}

// QEMU's table of which verb each status accepts (QMP JobVerb / JobStatus).
void Job::checkVerb(JobVerb verb) const {
    JobStatus s = info_.status;
    bool live = s == JobStatus::Created || s == JobStatus::Running || s == JobStatus::Paused ||
                s == JobStatus::Ready || s == JobStatus::Standby;
    bool ok = false;
    switch (verb) {
    case JobVerb::Cancel:
        ok = live || s == JobStatus::Waiting || s == JobStatus::Pending;
        break;
    case JobVerb::Pause:
    case JobVerb::Resume:
    case JobVerb::SetSpeed:
        ok = live;
        break;
    case JobVerb::Complete:
        ok = s == JobStatus::Ready;
        break;
    case JobVerb::Finalize:
        ok = s == JobStatus::Pending;
        break;
    case JobVerb::Dismiss:
        ok = s == JobStatus::Concluded;
        break;
    }
    if (!ok)
        throw std::runtime_error("Job '" + id_ + "' in state '" + jobStatusName(s) +
                                 "' cannot accept command verb '" + jobVerbName(verb) + "'");
}

void Job::cancel(bool force) {
    bool resumed = false, hard = false;
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Cancel);
        bool ready = info_.status == JobStatus::Ready || info_.status == JobStatus::Standby;
        if (!force && ready && softCancels()) {
            softCancelRequested_ = true;
        } else {
            cancelRequested_ = true;
            info_.cancelled = true;
            hard = true;
            // A job paused by a client or an error resumes to end, as QEMU's does before the
            // command returns. (Marked before the job can wake and look.)
            resumed = info_.paused;
            info_.paused = false;
            if (resumed)
                resumedByCancel_ = true;
        }
    }
    wake_.notify_all();
    if (hard)
        cancelTargetRequests();
    if (resumed)
        leavePause();
    if (group_ && cancelled())
        group_->abort();
}

void Job::leavePause() {
    JobStatus next;
    {
        std::lock_guard lock(mutex_);
        if (info_.status == JobStatus::Paused)
            next = JobStatus::Running;
        else if (info_.status == JobStatus::Standby)
            next = JobStatus::Ready;
        else
            return;
        info_.status = next;
        info_.busy = true;
    }
    wake_.notify_all();
    report(JobEvent::StatusChange);
}

void Job::complete() {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Complete);
        if (cancelRequested_ || softCancelRequested_)
            throw std::runtime_error("The active block job '" + id_ + "' cannot be completed");
        completeRequested_ = true;
    }
    wake_.notify_all();
}

void Job::becomeReady() {
    setStatus(JobStatus::Ready);
    report(JobEvent::Ready);
}

bool Job::completionRequested() const {
    std::lock_guard lock(mutex_);
    return completeRequested_ || softCancelRequested_;
}

bool Job::completeRequested() const {
    std::lock_guard lock(mutex_);
    return completeRequested_;
}

void Job::waitForRequest(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    bool wasBusy = info_.busy;
    info_.busy = false;
    wake_.wait_for(lock, timeout, [&] {
        return cancelRequested_ || failure_ || completeRequested_ || softCancelRequested_ ||
               info_.paused;
    });
    info_.busy = wasBusy;
}

void Job::cancelForGroup() {
    {
        std::lock_guard lock(mutex_);
        JobStatus s = info_.status;
        if (s == JobStatus::Aborting || s == JobStatus::Concluded || s == JobStatus::Null)
            return;
        cancelRequested_ = true;
        info_.cancelled = true;
    }
    wake_.notify_all();
}

void Job::pause() {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Pause);
        if (info_.paused)
            throw std::runtime_error("Job is already paused");
        info_.paused = true;
    }
    wake_.notify_all();
}

void Job::resume() {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Resume);
        if (!info_.paused)
            throw std::runtime_error("Can't resume a job that was not paused");
        info_.paused = false;
        info_.ioStatus = "ok";
        windowStart_ = std::chrono::steady_clock::now();
        windowBytes_ = 0;
    }
    wake_.notify_all();
}

void Job::setSpeed(uint64_t bytesPerSecond) {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::SetSpeed);
        info_.speed = bytesPerSecond;
        windowStart_ = std::chrono::steady_clock::now();
        windowBytes_ = 0;
    }
    wake_.notify_all();
}

void Job::finalize() {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Finalize);
        finalizeRequested_ = true;
        info_.finalizing = true;
    }
    wake_.notify_all();
}

void Job::dismiss() {
    {
        std::lock_guard lock(mutex_);
        checkVerb(JobVerb::Dismiss);
    }
    setStatus(JobStatus::Null);
}

bool Job::waitConcluded(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return wake_.wait_for(lock, timeout, [&] {
        return info_.status == JobStatus::Concluded || info_.status == JobStatus::Null;
    });
}

bool Job::cancelled() const {
    std::lock_guard lock(mutex_);
    return cancelRequested_;
}

void Job::setTotal(uint64_t total) {
    std::lock_guard lock(mutex_);
    info_.total = total;
}

void Job::addProgress(uint64_t bytes) {
    std::lock_guard lock(mutex_);
    info_.current += bytes;
    if (info_.current > info_.total)
        info_.total = info_.current;
}

void Job::fail(const std::string& error, bool writeError) {
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        if (!failure_) {
            failure_ = error;
            failureIsWrite_ = writeError;
            first = true;
        }
    }
    wake_.notify_all();
    if (first)
        report(JobEvent::IoError, writeError);
}

bool Job::actOnError(ErrorPolicy policy, int errnoValue, bool writeError) {
    const char* action = "report";
    switch (policy) {
    case ErrorPolicy::Report:
        break;
    case ErrorPolicy::Ignore:
        action = "ignore";
        break;
    case ErrorPolicy::Stop:
        action = "stop";
        break;
    case ErrorPolicy::Enospc:
    case ErrorPolicy::Auto:
        if (errnoValue == ENOSPC)
            action = "stop";
        break;
    }
    if (std::strcmp(action, "report") == 0) {
        fail(std::strerror(errnoValue), writeError);
        return false;
    }
    // (stop) The job is paused by the time a client sees the event, which it may answer with
    // a resume at once, as QEMU's job is; its status shows the pause at the next checkpoint.
    if (std::strcmp(action, "stop") == 0) {
        {
            std::lock_guard lock(mutex_);
            info_.paused = true;
            info_.ioStatus = errnoValue == ENOSPC ? "nospace" : "failed";
        }
        wake_.notify_all();
    }
    report(JobEvent::IoError, writeError, action);
    return true;
}

bool Job::checkpoint(uint64_t bytesDone) {
    std::unique_lock lock(mutex_);
    windowBytes_ += bytesDone;
    for (;;) {
        if (cancelRequested_ || failure_)
            return false;
        if (info_.paused) {
            if (info_.status != JobStatus::Paused && info_.status != JobStatus::Standby) {
                // A ready job pauses as standby, as in QEMU.
                JobStatus next =
                    info_.status == JobStatus::Ready ? JobStatus::Standby : JobStatus::Paused;
                lock.unlock();
                setStatus(next);
                lock.lock();
                continue; // a resume may have come while the event went out: look again
            }
            wake_.wait(lock);
            continue;
        }
        if (info_.status == JobStatus::Paused || info_.status == JobStatus::Standby) {
            JobStatus next =
                info_.status == JobStatus::Standby ? JobStatus::Ready : JobStatus::Running;
            lock.unlock();
            setStatus(next);
            lock.lock();
            continue;
        }
        if (info_.speed == 0)
            return true;
        auto due = windowStart_ + std::chrono::microseconds(windowBytes_ * 1000000 / info_.speed);
        if (std::chrono::steady_clock::now() >= due)
            return true;
        bool wasBusy = info_.busy;
        info_.busy = false;
        wake_.wait_until(lock, due);
        info_.busy = wasBusy;
    }
}

void Job::idleUntilCancelled() {
    {
        std::lock_guard lock(mutex_);
        info_.busy = false;
    }
    std::unique_lock lock(mutex_);
    for (;;) {
        if (cancelRequested_ || failure_)
            return;
        if (info_.paused != (info_.status == JobStatus::Paused)) {
            JobStatus next = info_.paused ? JobStatus::Paused : JobStatus::Running;
            lock.unlock();
            setStatus(next);
            lock.lock();
            info_.busy = false;
            continue;
        }
        wake_.wait(lock);
    }
}

void Job::thread() {
    try {
        run();
    } catch (const BlockError& e) {
        fail(std::strerror(e.errnoValue()), false);
    } catch (const std::exception& e) {
        fail(e.what(), false);
    }
    bool cancelledNow, failed;
    {
        std::unique_lock lock(mutex_);
        if ((info_.status == JobStatus::Paused || info_.status == JobStatus::Standby) &&
            !cancelRequested_ && !failure_)
            info_.paused = false;
        cancelledNow = cancelRequested_;
        failed = failure_.has_value();
    }
    leavePause();
    if (!cancelledNow && !failed) {
        setStatus(JobStatus::Waiting);
        // A grouped transaction's member waits for the others; it is cancelled if one fails.
        if (group_ && !group_->waitAllSucceeded()) {
            std::lock_guard lock(mutex_);
            cancelledNow = true;
            info_.cancelled = true;
        }
    }
    if (!cancelledNow && !failed) {
        setStatus(JobStatus::Pending);
        bool autoFinalize;
        {
            std::lock_guard lock(mutex_);
            autoFinalize = info_.autoFinalize;
        }
        if (!autoFinalize) {
            report(JobEvent::Pending);
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return finalizeRequested_ || cancelRequested_; });
            cancelledNow = cancelRequested_;
        }
    }
    if (!cancelledNow && !failed) {
        // The last check before the job's work takes effect; it may still fail the job.
        try {
            prepare();
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            failure_ = e.what();
            failed = true;
        }
    }
    if (cancelledNow || failed) {
        bool resumedByCancel;
        {
            std::lock_guard lock(mutex_);
            resumedByCancel = resumedByCancel_;
        }
        // A job resumed by its cancel goes on once the command has returned, as in QEMU
        // (where it runs again in a later turn of the main loop).
        if (resumedByCancel)
            std::this_thread::sleep_for(kAfterCancelResume);
        if (group_)
            group_->abort();
        {
            std::lock_guard lock(mutex_);
            if (!cancelledNow)
                info_.error = failure_;
        }
        setStatus(JobStatus::Aborting);
        abort();
        clean();
        report(cancelledNow ? JobEvent::Cancelled : JobEvent::Completed);
    } else {
        commit();
        clean();
        report(JobEvent::Completed);
    }
    conclude();
}

void Job::conclude() {
    setStatus(JobStatus::Concluded);
    bool autoDismiss;
    {
        std::lock_guard lock(mutex_);
        autoDismiss = info_.autoDismiss;
    }
    if (autoDismiss)
        setStatus(JobStatus::Null);
}

void JobGroup::add(Job* job) {
    std::lock_guard lock(mutex_);
    members_.push_back(job);
}

bool JobGroup::waitAllSucceeded() {
    std::unique_lock lock(mutex_);
    ++succeeded_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return aborted_ || succeeded_ >= members_.size(); });
    return !aborted_;
}

void JobGroup::abort() {
    std::vector<Job*> others;
    {
        std::lock_guard lock(mutex_);
        // Once every member succeeded, the group's outcome is decided.
        if (aborted_ || succeeded_ >= members_.size())
            return;
        aborted_ = true;
        others = members_;
    }
    changed_.notify_all();
    for (Job* job : others)
        job->cancelForGroup();
}

} // namespace e2kvm::block

#pragma once
// Job: a long-running block operation (a backup, a mirror) on a thread of its own, with QEMU's
// job life cycle: created -> running (<-> paused) [-> ready (<-> standby)] -> waiting -> pending
// -> concluded -> null on success, -> aborting -> concluded -> null on failure or cancel. A job
// that becomes ready (a mirror) waits there for complete, or for a cancel without force, which
// QEMU's mirror also takes as the end of its work (without a pivot). It reports progress, obeys a
// speed limit, pause, resume and cancel, waits for finalize and dismiss when asked to, and tells a
// listener of every status change and of its end. Qt-free; QMP and the GUI are its clients.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace e2kvm::block {

enum class JobStatus {
    Undefined,
    Created,
    Running,
    Paused,
    Ready,
    Standby,
    Waiting,
    Pending,
    Aborting,
    Concluded,
    Null
};
// QMP's JobStatus name ("running", "concluded", ...).
const char* jobStatusName(JobStatus status);

// What a client may ask of a job (QMP's JobVerb).
enum class JobVerb { Cancel, Pause, Resume, SetSpeed, Complete, Finalize, Dismiss };
const char* jobVerbName(JobVerb verb);

// What a job does when a read or write of its copy fails (QMP's BlockdevOnError): report it and
// fail, ignore it (and try again), stop (pause until a client resumes it, then try again), or
// stop only for ENOSPC and else report (enospc, and auto, as QEMU's jobs take it).
enum class ErrorPolicy { Report, Ignore, Enospc, Stop, Auto };

class JobGroup;

struct JobInfo {
    std::string id;
    std::string type; // "backup"
    JobStatus status = JobStatus::Undefined;
    uint64_t current = 0, total = 0; // progress in bytes
    uint64_t speed = 0;              // bytes per second, 0 = unlimited
    bool paused = false;             // paused by a client
    bool busy = false;               // working right now (not sleeping or waiting)
    bool autoFinalize = true, autoDismiss = true;
    std::optional<std::string> error; // after a failure: strerror-style text
    bool cancelled = false;
    std::string ioStatus = "ok"; // "failed" or "nospace" while stopped by an error
    bool finalizing = false;     // a client finalized it: pending only until it concludes
};

struct JobEvent {
    enum Kind {
        StatusChange, // info.status is the new status
        Pending,      // waiting for finalize (auto-finalize off)
        Completed,    // ended (info.error set on failure)
        Cancelled,
        IoError, // a read or write failed; `action` says what the job does about it
        Ready,   // the job became ready (BLOCK_JOB_READY)
    } kind = StatusChange;
    JobInfo info;
    bool writeError = false;       // IoError: a write (else a read)
    std::string action = "report"; // IoError: "report", "ignore" or "stop"
};

class Job {
public:
    using Listener = std::function<void(const JobEvent&)>;

    Job(std::string id, std::string type, bool autoFinalize, bool autoDismiss);
    virtual ~Job(); // waits for the job's thread
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    const std::string& id() const { return id_; }
    JobInfo info() const;
    JobStatus status() const;

    // Starts the thread. The listener is called on any thread, never with the job's lock held.
    void start(Listener listener);
    // Makes the job one of a group that completes as one (a transaction's grouped completion
    // mode): call before start().
    void joinGroup(std::shared_ptr<JobGroup> group);

    // Client requests; each throws std::runtime_error with QEMU's wording when the job's status
    // does not allow it ("Job 'j' in state 'pending' cannot accept command verb 'dismiss'").
    // force=false asks a ready job that supports it (softCancels()) to end its work as if
    // completed, without what complete would do at the end; otherwise it is a plain cancel.
    void cancel(bool force = true);
    // QMP's complete verb: a ready job ends its work (and, for a mirror, pivots).
    void complete();
    void pause();
    void resume();
    void setSpeed(uint64_t bytesPerSecond);
    void finalize();
    void dismiss();
    // For a job that was created but never started (its transaction failed): reports created,
    // aborting, concluded and null, as QEMU does for such a job.
    void reportAbandoned(Listener listener);
    // For a job that failed while it was being set up (QEMU's early fail, e.g. block-commit's
    // filter node that cannot be made): reports created and null.
    void reportFailedEarly(Listener listener);
    // Waits (bounded) until the job has concluded; true if it did.
    bool waitConcluded(std::chrono::milliseconds timeout);

protected:
    // Whether the job pauses once at its start, as a QEMU job on nodes does while they are
    // drained (blockdev-create's job does not).
    virtual bool drainsAtStart() const { return true; }
    // The work, on the job's thread. Call checkpoint() between steps; throw to fail the job.
    virtual void run() = 0;
    // After run, once the job is pending and finalized: prepare() may still fail it (throw:
    // the exception's text is the job's error), as QEMU's .prepare. Then commit() on success,
    // abort() on failure or cancel, then clean() always.
    virtual void prepare() {}
    virtual void commit() {}
    virtual void abort() {}
    virtual void clean() {}
    // Whether a cancel without force of a ready job ends it as a completion (QEMU's mirror).
    virtual bool softCancels() const { return false; }
    // From the client's thread, once the job is cancelled (not a soft cancel): makes requests
    // that wait on its target give up (QEMU's jobs cancel the target's requests in flight).
    virtual void cancelTargetRequests() {}

    // On the job's thread: running -> ready, with the ready event.
    void becomeReady();
    // Whether a client asked a ready job to complete (complete, or cancel without force).
    bool completionRequested() const;
    // Whether that ask was complete itself (not a cancel without force).
    bool completeRequested() const;
    // Waits (not busy) up to `timeout` for a client's request (complete, cancel, pause, speed).
    void waitForRequest(std::chrono::milliseconds timeout);

    // Waits while paused, sleeps to keep to the speed limit (`bytesDone` since the last call),
    // and returns false once the job is cancelled or has failed (stop working then).
    bool checkpoint(uint64_t bytesDone = 0);
    // Sleeps (not busy) until the job is cancelled or fails, pausing as asked meanwhile.
    void idleUntilCancelled();
    void setTotal(uint64_t total);
    void addProgress(uint64_t bytes);
    // From any thread: the job fails with this error (an I/O error reported by a copy).
    void fail(const std::string& error, bool writeError);
    // On the job's thread, after a step failed with `errnoValue`: acts on the error as `policy`
    // says. Returns false when the job is to fail (the error was reported as such); true when
    // the step is to be tried again (ignored, or stopped and resumed by a client; the caller
    // then goes through checkpoint(), which returns false if the job was cancelled meanwhile).
    bool actOnError(ErrorPolicy policy, int errnoValue, bool writeError);
    bool cancelled() const;
    // The speed limit a job starts with.
    void presetSpeed(uint64_t bytesPerSecond);
    // Waits for the job's thread (detaches it when called on that thread). Derived destructors
    // call it first, so that the thread never sees a half-destroyed job.
    void joinThread();

private:
    void setStatus(JobStatus status);
    // Paused -> running, standby -> ready (once, whichever thread comes first).
    void leavePause();
    void report(JobEvent::Kind kind, bool writeError = false, const char* action = "report");
    // Cancels the job on behalf of its group (another member failed or was cancelled).
    void cancelForGroup();
    friend class JobGroup;
    void checkVerb(JobVerb verb) const; // caller holds mutex_
    void thread();
    void conclude();

    const std::string id_, type_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    JobInfo info_;
    bool cancelRequested_ = false;
    bool completeRequested_ = false;
    bool softCancelRequested_ = false;
    bool resumedByCancel_ = false; // a cancel ended a pause
    bool finalizeRequested_ = false;
    std::optional<std::string> failure_;
    bool failureIsWrite_ = false;
    std::chrono::steady_clock::time_point windowStart_;
    uint64_t windowBytes_ = 0;
    Listener listener_;
    std::shared_ptr<JobGroup> group_;
    std::thread thread_;
};

// JobGroup: the jobs of one transaction with completion-mode "grouped". A member whose work is
// done waits (status waiting) until every member's is; when one fails or is cancelled, the
// others are cancelled, as QEMU's job transactions do.
class JobGroup {
public:
    void add(Job* job);
    // A member's work succeeded: waits until all members' did (true) or the group is aborted
    // (false).
    bool waitAllSucceeded();
    // A member failed or was cancelled: cancels the others (once).
    void abort();

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Job*> members_;
    size_t succeeded_ = 0;
    bool aborted_ = false;
};

} // namespace e2kvm::block

#pragma once
// PointInTimeExports: read-only NBD exports of a disk the VM keeps writing, frozen at one moment
// (QEMU's "fleecing"). Starting one creates a temporary qcow2 overlay whose backing is the
// running disk, adds it to the node table, starts a backup job with sync=none from the disk to
// the overlay (copy-before-write keeps the old contents of every cluster the guest changes) and
// exports the overlay with the disk's chosen (frozen) bitmaps. Stopping it removes the export,
// cancels the job, closes the overlay and deletes its file. An export removed by someone else
// (QMP block-export-del, the NBD server stopping) or a job that ends on its own (cancelled over
// QMP, a failed copy) releases the overlay as well. Qt-free and thread-safe.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace e2kvm::vm {

struct PointInTimeRequest {
    std::string nodeName;   // the disk (a node of the table)
    std::string exportName; // also the export id
    std::string description;
    std::vector<std::string> bitmaps; // frozen bitmaps of the disk (or of its backing chain)
    // Where the temporary overlay goes; empty: next to the disk's file if that directory is
    // writable, else the system's temporary directory.
    std::string directory;
    // Recording bitmaps of the disk frozen at the very moment of the point in time and exported
    // too: they then list exactly what changed up to the data the export shows. Then
    // `newCheckpoint` (if not empty) is added, recording, at that same moment, so that no write
    // goes untracked (QEMU's transaction of bitmap actions and blockdev-backup).
    std::vector<std::string> freeze;
    std::string newCheckpoint;
};

struct PointInTimeInfo {
    std::string exportName;
    std::string sourceNode;  // the disk
    std::string overlayNode; // the temporary qcow2 overlay that is exported
    std::string overlayFile;
    std::string jobId; // the sync=none backup job in the JobTable
    std::vector<std::string> bitmaps;
    std::chrono::system_clock::time_point takenAt; // the moment the export shows
};

class PointInTimeExports {
public:
    // Tells about a point-in-time export released by something other than stop(): `why` says
    // what ended it, `error` is empty unless cleaning up failed. Called on the thread that ended
    // it (a QMP thread, the job's thread), never with a lock of this object held.
    using ReleasedCallback = std::function<void(const PointInTimeInfo& info, const std::string& why,
                                                const std::string& error)>;

    PointInTimeExports(BlockNodeTable& nodes, JobTable& jobs, NbdExportService& exports);
    ~PointInTimeExports(); // stops every point-in-time export
    PointInTimeExports(const PointInTimeExports&) = delete;
    PointInTimeExports& operator=(const PointInTimeExports&) = delete;

    // Takes the point in time and exports it (the NBD server must be running). Throws
    // std::runtime_error naming the disk and the step that failed; nothing is left behind then.
    PointInTimeInfo start(const PointInTimeRequest& request);
    // Removes the export (clients are disconnected), cancels the job and waits for it to end,
    // closes the overlay and deletes its file. False if `exportName` is not a point-in-time
    // export. Throws std::runtime_error naming what could not be released.
    bool stop(const std::string& exportName);

    std::optional<PointInTimeInfo> find(const std::string& exportName) const;
    std::vector<PointInTimeInfo> list() const;
    // Whether `nodeName` is the overlay of one of these exports.
    bool isOverlay(const std::string& nodeName) const;

    void setOnReleased(ReleasedCallback cb);

private:
    struct Entry {
        PointInTimeInfo info;
        std::shared_ptr<block::Job> job;
    };
    std::optional<Entry> take(const std::string& exportName);
    // Undoes what `entry` set up; the export must be gone already. Throws on the first failure.
    void release(const Entry& entry);
    void releasedElsewhere(const Entry& entry, const std::string& why);
    void waitJobEnded(const std::string& jobId);
    std::string overlayPath(const std::string& sourceFile, const std::string& directory);

    BlockNodeTable& nodes_;
    JobTable& jobs_;
    NbdExportService& exports_;
    int exportListener_ = 0;
    int jobListener_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable jobEnded_;
    std::vector<Entry> entries_;
    std::set<std::string> ourJobs_;   // ids of the jobs this object started and still tracks
    std::set<std::string> endedJobs_; // those of them that reached "null"
    unsigned counter_ = 0;
    ReleasedCallback onReleased_;
};

} // namespace e2kvm::vm

#pragma once
// JobTable: the block jobs of one process (QMP blockdev-backup, the GUI's point-in-time
// export), by job id. It starts them, marks the nodes and bitmaps they work on as busy until
// they conclude, tells listeners (QMP events, views) of every job event, and forgets a job once
// it is dismissed. Thread-safe.
#include "app/vmcore/BlockNodeTable.h"
#include "block/bitmap/DirtyBitmap.h"
#include "block/copy/BlockCopy.h"
#include "block/job/Job.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::vm {

// What a running backup shows as bitmaps of its source node, as QEMU's query-named-block-nodes
// does: its copy engine's clusters still to copy, and with a bitmap that bitmap as the point in
// time took it (shown under the bitmap's name) and the bitmap recording since (anonymous).
struct BackupBitmaps {
    std::string sourceNode;
    std::string bitmapName; // "" without a bitmap
    std::shared_ptr<const block::BlockCopy> copy;
    std::shared_ptr<const block::DirtyBitmap> taken;
    std::shared_ptr<const block::DirtyBitmap> recording;
};

struct JobUse {
    std::vector<std::string> nodes;                           // node names
    std::vector<std::pair<std::string, std::string>> bitmaps; // (node, bitmap)
    std::optional<BackupBitmaps> backup;
};

class JobTable {
public:
    explicit JobTable(BlockNodeTable& nodes);
    ~JobTable(); // cancels what still runs and waits for it
    JobTable(const JobTable&) = delete;
    JobTable& operator=(const JobTable&) = delete;

    // Throws std::runtime_error "Job ID 'x' already in use" (nothing started then).
    void checkIdFree(const std::string& id) const;
    // Registers and starts a job (its point in time already taken).
    void start(std::shared_ptr<block::Job> job, JobUse use);
    // A job that will not start (its transaction failed) is reported as ended.
    void abandon(const std::shared_ptr<block::Job>& job);
    // A job that failed while it was being set up (never started) is reported as created and
    // gone, as QEMU's early fail.
    void failEarly(const std::shared_ptr<block::Job>& job);
    std::shared_ptr<block::Job> find(const std::string& id) const;
    std::vector<std::shared_ptr<block::Job>> list() const; // in creation order

    // The type of the job that keeps a node busy ("backup"), or empty.
    std::string nodeBusyWith(const std::string& nodeName) const;
    // The jobs that still hold the node.
    std::vector<std::shared_ptr<block::Job>> jobsUsing(const std::string& nodeName) const;
    bool bitmapBusy(const std::string& nodeName, const std::string& bitmap) const;
    // The bitmaps of the backups still holding their nodes whose source is `nodeName`.
    std::vector<BackupBitmaps> backupBitmaps(const std::string& nodeName) const;

    // Waits (at most `limit`) until every job whose end has been reported (BLOCK_JOB_COMPLETED,
    // _CANCELLED) has concluded too, and is gone if it dismisses itself. QEMU takes those steps
    // in one turn of its main loop, so a command a client sends after seeing the event finds
    // them done (the job id free again); a command handler calls this first.
    void waitForEndingJobs(std::chrono::milliseconds limit) const;

    int addListener(std::function<void(const block::JobEvent&)> cb);
    void removeListener(int handle);

private:
    struct Entry {
        std::shared_ptr<block::Job> job;
        JobUse use;
        bool holding = true; // nodes and bitmaps still busy
        bool ending = false; // its end reported, not yet concluded (or dropped)
    };
    void onEvent(const block::JobEvent& e);

    BlockNodeTable& nodes_;
    mutable std::mutex mutex_;
    mutable std::condition_variable endingSettled_;
    std::vector<Entry> entries_;
    std::vector<std::shared_ptr<block::Job>> dismissed_; // released off the job's own thread
    std::map<int, std::function<void(const block::JobEvent&)>> listeners_;
    int nextListener_ = 1;
};

} // namespace e2kvm::vm

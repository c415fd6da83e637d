#include "app/vmcore/PointInTimeExports.h"

#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/job/BackupJob.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

namespace e2kvm::vm {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kOverlayClusterSize = 65536;
constexpr auto kJobEndTimeout = std::chrono::seconds(30);

} // namespace

PointInTimeExports::PointInTimeExports(BlockNodeTable& nodes, JobTable& jobs,
                                       NbdExportService& exports)
    : nodes_(nodes), jobs_(jobs), exports_(exports) {
    exportListener_ = exports_.addExportListener([this](const std::string& id) {
        if (std::optional<Entry> e = take(id))
            releasedElsewhere(*e, "its NBD export was removed");
    });
    jobListener_ = jobs_.addListener([this](const block::JobEvent& ev) {
        if (ev.kind != block::JobEvent::StatusChange || ev.info.status != block::JobStatus::Null)
            return;
        std::optional<Entry> orphan;
        {
            std::lock_guard lock(mutex_);
            if (!ourJobs_.count(ev.info.id))
                return;
            endedJobs_.insert(ev.info.id);
            // A job of a live export ended on its own (cancelled over QMP, a copy that failed):
            // the overlay no longer holds the point in time, so the export goes.
            auto it = std::find_if(entries_.begin(), entries_.end(),
                                   [&](const Entry& e) { return e.info.jobId == ev.info.id; });
            if (it != entries_.end()) {
                orphan = std::move(*it);
                entries_.erase(it);
            }
            // Under the lock: a waiter may destroy this object as soon as it wakes.
            jobEnded_.notify_all();
        }
        if (orphan)
            releasedElsewhere(*orphan, "its backup job '" + ev.info.id + "' ended" +
                                           (ev.info.error ? " (" + *ev.info.error + ")" : ""));
    });
}

PointInTimeExports::~PointInTimeExports() {
    exports_.removeExportListener(exportListener_);
    for (const PointInTimeInfo& info : list()) {
        try {
            stop(info.exportName);
        } catch (const std::exception&) {
            // Shutting down: the job table's and node table's destructors still cancel the job
            // and close the overlay; only the temporary file stays behind then.
        }
    }
    jobs_.removeListener(jobListener_);
}

void PointInTimeExports::setOnReleased(ReleasedCallback cb) {
    std::lock_guard lock(mutex_);
    onReleased_ = std::move(cb);
}

std::string PointInTimeExports::overlayPath(const std::string& sourceFile,
                                            const std::string& directory) {
    fs::path dir = directory;
    if (dir.empty()) {
        fs::path parent = fs::path(sourceFile).parent_path();
        std::error_code ec;
        bool usable =
            !parent.empty() && fs::is_directory(parent, ec) && access(parent.c_str(), W_OK) == 0;
        dir = usable ? parent : fs::temp_directory_path();
    }
    std::string base = fs::path(sourceFile).filename().string();
    if (base.empty())
        base = "disk";
    for (;;) {
        unsigned n;
        {
            std::lock_guard lock(mutex_);
            n = ++counter_;
        }
        fs::path candidate = dir / (base + ".point-in-time-" + std::to_string(getpid()) + "-" +
                                    std::to_string(n) + ".qcow2");
        std::error_code ec;
        if (!fs::exists(candidate, ec))
            return candidate.string();
    }
}

PointInTimeInfo PointInTimeExports::start(const PointInTimeRequest& request) {
    const std::string context = "point-in-time export of node '" + request.nodeName + "'";
    std::shared_ptr<BlockNode> source = nodes_.find(request.nodeName);
    if (!source)
        throw std::runtime_error(context + ": no such node");
    if (request.exportName.empty())
        throw std::runtime_error(context + ": no export name");
    if (!exports_.running())
        throw std::runtime_error(context + ": the NBD server is not running");
    if (exports_.hasExportId(request.exportName))
        throw std::runtime_error(context + ": export '" + request.exportName + "' already exists");

    PointInTimeInfo info;
    info.exportName = request.exportName;
    info.sourceNode = source->name;
    info.bitmaps = request.bitmaps;
    info.bitmaps.insert(info.bitmaps.end(), request.freeze.begin(), request.freeze.end());
    std::vector<block::BitmapAction> atTheMoment;
    for (const std::string& name : request.freeze) {
        block::BitmapAction a;
        a.kind = block::BitmapActionKind::Disable;
        a.name = name;
        atTheMoment.push_back(a);
    }
    if (!request.newCheckpoint.empty()) {
        block::BitmapAction a;
        a.kind = block::BitmapActionKind::Add;
        a.name = request.newCheckpoint;
        a.persistent = source->image->bitmaps() && source->image->bitmaps()->storesBitmaps();
        atTheMoment.push_back(a);
    }
    if (!atTheMoment.empty() && !source->image->bitmaps())
        throw std::runtime_error(context + ": the disk has no dirty bitmaps");
    info.overlayFile = overlayPath(source->file, request.directory);
    for (unsigned n = 1;; ++n) {
        std::string name = "point-in-time-" + std::to_string(n);
        if (nodes_.find(name) || jobs_.find(name))
            continue;
        info.overlayNode = info.jobId = name;
        break;
    }

    // What has been set up so far, undone in reverse order if a later step fails.
    bool fileCreated = false, nodeAdded = false, jobStarted = false;
    std::shared_ptr<block::BackupJob> job;
    auto rollBack = [&] {
        if (jobStarted) {
            try {
                job->cancel();
            } catch (const std::exception&) {
                // already ending
            }
            try {
                waitJobEnded(info.jobId);
            } catch (const std::exception&) {
                // the node stays (it is still in use); its file is removed all the same
            }
        }
        {
            std::lock_guard lock(mutex_);
            ourJobs_.erase(info.jobId);
            endedJobs_.erase(info.jobId);
        }
        if (nodeAdded) {
            try {
                nodes_.remove(info.overlayNode);
            } catch (const std::exception&) {
                // still in use by a job that did not end: the file goes anyway
            }
        }
        if (fileCreated) {
            std::error_code ec;
            fs::remove(info.overlayFile, ec);
        }
    };

    try {
        block::CreateOptions create;
        create.format = "qcow2";
        create.size = source->image->size();
        create.sizeGiven = true;
        create.clusterSize = kOverlayClusterSize;
        try {
            block::createImage(info.overlayFile, create);
        } catch (const std::exception& e) {
            throw std::runtime_error("cannot create the temporary image: " + std::string(e.what()));
        }
        fileCreated = true;

        block::OpenOptions open;
        open.format = "qcow2";
        open.readOnly = false;
        open.backingNode = source->image;
        std::shared_ptr<block::BlockDriver> overlay;
        try {
            overlay = block::openImage(info.overlayFile, open);
        } catch (const std::exception& e) {
            throw std::runtime_error("cannot open the temporary image: " + std::string(e.what()));
        }
        nodes_.add(overlay, info.overlayFile, "qcow2", false, info.overlayNode);
        nodeAdded = true; // the disk is now in use as its backing (BlockNodeTable::add)

        block::BackupSpec spec;
        spec.id = info.jobId;
        spec.source = source->image;
        spec.target = overlay;
        spec.sync = block::BackupSync::None;
        job = std::make_shared<block::BackupJob>(std::move(spec));
        if (!job->fleecing())
            throw std::runtime_error("the temporary image is not an overlay of the disk");
        {
            // The moment the export shows: no write of the guest is in flight while the copy
            // before write is put in place.
            block::BlockDriver::ChangesPaused paused(*source->image);
            if (!atTheMoment.empty()) {
                try {
                    source->image->bitmaps()->apply(atTheMoment);
                } catch (const std::exception& e) {
                    throw std::runtime_error("cannot freeze the bitmaps: " + std::string(e.what()));
                }
            }
            job->takePointInTime(paused);
            info.takenAt = std::chrono::system_clock::now();
        }
        {
            std::lock_guard lock(mutex_);
            ourJobs_.insert(info.jobId);
        }
        jobs_.start(job, JobUse{{info.sourceNode, info.overlayNode}, {}});
        jobStarted = true;
        {
            std::lock_guard lock(mutex_);
            entries_.push_back(Entry{info, job});
        }

        NbdExportRequest exportRequest;
        exportRequest.id = info.exportName;
        exportRequest.exportName = info.exportName;
        exportRequest.nodeName = info.overlayNode;
        exportRequest.description = request.description;
        exportRequest.writable = false;
        exportRequest.bitmaps = info.bitmaps;
        try {
            exports_.add(exportRequest);
        } catch (...) {
            take(info.exportName);
            throw;
        }
    } catch (const std::exception& e) {
        rollBack();
        throw std::runtime_error(context + ": " + e.what());
    }
    return info;
}

std::optional<PointInTimeExports::Entry> PointInTimeExports::take(const std::string& exportName) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.info.exportName == exportName; });
    if (it == entries_.end())
        return std::nullopt;
    Entry e = std::move(*it);
    entries_.erase(it);
    return e;
}

bool PointInTimeExports::stop(const std::string& exportName) {
    std::optional<Entry> e = take(exportName);
    if (!e)
        return false;
    exports_.removeById(exportName, true);
    release(*e);
    return true;
}

void PointInTimeExports::waitJobEnded(const std::string& jobId) {
    std::unique_lock lock(mutex_);
    if (!jobEnded_.wait_for(lock, kJobEndTimeout, [&] { return endedJobs_.count(jobId) > 0; }))
        throw std::runtime_error("backup job '" + jobId + "' did not end within " +
                                 std::to_string(kJobEndTimeout.count()) + " s");
}

void PointInTimeExports::release(const Entry& entry) {
    const PointInTimeInfo& info = entry.info;
    const std::string context = "releasing point-in-time export '" + info.exportName + "'";
    try {
        entry.job->cancel();
    } catch (const std::exception&) {
        // It has ended already (cancelled by someone else, or failed).
    }
    try {
        waitJobEnded(info.jobId);
    } catch (const std::exception& e) {
        throw std::runtime_error(context + ": " + e.what());
    }
    {
        std::lock_guard lock(mutex_);
        ourJobs_.erase(info.jobId);
        endedJobs_.erase(info.jobId);
    }
    try {
        nodes_.remove(info.overlayNode);
    } catch (const std::exception& e) {
        throw std::runtime_error(context + ": " + e.what());
    }
    std::error_code ec;
    if (!fs::remove(info.overlayFile, ec) && ec)
        throw std::runtime_error(context + ": cannot delete " + info.overlayFile + ": " +
                                 ec.message());
}

void PointInTimeExports::releasedElsewhere(const Entry& entry, const std::string& why) {
    std::string error;
    try {
        exports_.removeById(entry.info.exportName, true);
        release(entry);
    } catch (const std::exception& e) {
        error = e.what();
    }
    ReleasedCallback cb;
    {
        std::lock_guard lock(mutex_);
        cb = onReleased_;
    }
    if (cb)
        cb(entry.info, why, error);
}

std::optional<PointInTimeInfo> PointInTimeExports::find(const std::string& exportName) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.info.exportName == exportName)
            return e.info;
    return std::nullopt;
}

std::vector<PointInTimeInfo> PointInTimeExports::list() const {
    std::lock_guard lock(mutex_);
    std::vector<PointInTimeInfo> out;
    for (const Entry& e : entries_)
        out.push_back(e.info);
    return out;
}

bool PointInTimeExports::isOverlay(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.info.overlayNode == nodeName; });
}

} // namespace e2kvm::vm

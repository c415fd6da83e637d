#pragma once
// BackupRepository: a backup directory: one qcow2 file per restore point (a full point has no
// backing file, an incremental one names the previous point's file) and the manifest
// `e2kvm-backup.json` listing the points. The manifest is replaced atomically (write, fsync,
// rename), so an interrupted run never leaves a half point listed; opening for writing takes
// the directory's lock and removes what an interrupted run left behind (unlisted point files,
// partial files, fleecing overlays) and finishes a prune that had committed.
#include "app/backup/RestorePoint.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::backup {

class BackupRepository {
public:
    enum class Access {
        Read,  // no lock; the directory must hold a manifest
        Write, // created if missing; exclusive lock; recovery of interrupted work
    };
    // Throws std::runtime_error saying what is wrong with the directory.
    BackupRepository(const std::string& directory, Access access);
    ~BackupRepository();
    BackupRepository(const BackupRepository&) = delete;
    BackupRepository& operator=(const BackupRepository&) = delete;

    const std::string& directory() const { return dir_; }
    // A random id given to the directory when it was created; names its checkpoint bitmaps.
    const std::string& id() const { return id_; }
    // Oldest first.
    const std::vector<RestorePoint>& points() const { return points_; }
    const RestorePoint* find(uint64_t number) const;
    const RestorePoint* latest() const { return points_.empty() ? nullptr : &points_.back(); }
    // The points `number` depends on, oldest (the full point) first, ending with it. Throws if
    // the chain is broken (an incremental point without its full point).
    std::vector<RestorePoint> chainOf(uint64_t number) const;
    std::string pathOf(const RestorePoint& p) const { return dir_ + "/" + p.file; }
    std::string pathOf(const std::string& file) const { return dir_ + "/" + file; }

    // Reserves the next point number durably (numbers are never reused, so the checkpoint
    // bitmap names of an interrupted run never collide with a later one).
    uint64_t reserveNumber();
    static std::string fileNameFor(uint64_t number); // "point-0001.qcow2"
    // Where a point is written before it is complete (removed by recovery).
    std::string partialPathFor(uint64_t number) const;
    // Where a temporary fleecing overlay of a run goes (removed by recovery).
    std::string overlayPathFor(uint64_t number) const;
    // Name prefix of this directory's checkpoint bitmaps; the number follows it.
    std::string checkpointPrefix() const { return "e2kvm-backup-" + id_ + "-"; }
    std::string checkpointName(uint64_t number) const;
    // The point number of a checkpoint bitmap of this directory, if `bitmap` is one.
    std::optional<uint64_t> checkpointNumber(const std::string& bitmap) const;

    // Lists a point whose file is complete and durable at pathOf(p) (renamed from its partial
    // path). Only when this returns is the point taken.
    void append(const RestorePoint& p);
    // Replaces the record of an existing point (verify results).
    void update(const RestorePoint& p);
    // Prune: lists exactly `kept` (the first of which may have a new file waiting at
    // `replacementPath` to be renamed over its file), renames it, then deletes the files of
    // the points no longer listed. Safe to interrupt at any moment: the next Write open
    // finishes the rename.
    void replacePoints(std::vector<RestorePoint> kept, const std::string& replacementPath);

private:
    void load();
    void save();
    void recover();
    void finishPendingRename();
    void removeUnlisted();

    std::string dir_;
    Access access_;
    int lockFd_ = -1;
    std::string id_;
    uint64_t nextNumber_ = 1;
    std::vector<RestorePoint> points_;
    // A committed prune's rename not yet done: {from, to} relative to dir_.
    std::optional<std::pair<std::string, std::string>> pendingRename_;
};

} // namespace e2kvm::backup

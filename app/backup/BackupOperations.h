#pragma once
// The operations on a backup directory: take a point (full or incremental) from a source,
// verify points, restore one, prune old ones. What e2kvm-backup's commands and the GUI's
// Backups tab run. Each throws std::runtime_error saying what failed and what to do; a failed
// or interrupted operation leaves the directory as it was (see BackupRepository).
#include "app/backup/BackupRepository.h"
#include "app/backup/BackupSource.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace e2kvm::backup {

// Bytes done out of a total (the total may grow once, when it becomes known).
using ProgressSink = std::function<void(uint64_t done, uint64_t total)>;

struct BackupOptions {
    bool incremental = false;     // false: a full point
    unsigned connections = 4;     // readers at once (NBD: only if the server allows several)
    std::optional<unsigned> keep; // prune to this many points after a successful backup
    std::string compression;      // "" (none), "zlib" or "zstd": data clusters stored compressed
    ProgressSink progress;
    NoteSink note;                             // decisions and warnings, one line each
    const std::atomic<bool>* cancel = nullptr; // set it to stop (the point is not taken)
};

// Takes a restore point of `source` into `repo` (opened for writing).
RestorePoint takeBackup(BackupRepository& repo, BackupSource& source, const BackupOptions& options);

struct RestoreOptions {
    std::optional<uint64_t> point; // default: the latest
    std::string format = "raw";    // raw or qcow2
    bool overwrite = false;        // replace an existing file at the output path
    ProgressSink progress;
    const std::atomic<bool>* cancel = nullptr;
};

// Writes the disk as it was at the point to `output` (sparse), atomically: a temporary file
// renamed over `output` when complete. Returns the point restored.
RestorePoint restorePoint(const BackupRepository& repo, const std::string& output,
                          const RestoreOptions& options);

struct VerifyIssue {
    uint64_t point = 0;
    std::string problem;
};

struct VerifyReport {
    std::vector<uint64_t> checked;
    std::vector<VerifyIssue> issues;
    bool ok() const { return issues.empty(); }
};

// Recomputes each point's checksum and checks its file (qcow2, size, backing file, metadata);
// with `point`, that point and the points it depends on. Records the result in the manifest.
VerifyReport verifyPoints(BackupRepository& repo, std::optional<uint64_t> point,
                          const ProgressSink& progress = {},
                          const std::atomic<bool>* cancel = nullptr);

struct PruneReport {
    std::vector<uint64_t> removed;
    std::optional<uint64_t> merged; // the oldest kept point, rewritten as a full point
};

// Keeps the newest `keep` points (at least 1): older ones are merged into the oldest kept
// point, so every kept point restores exactly as before.
PruneReport prunePoints(BackupRepository& repo, unsigned keep, const ProgressSink& progress = {},
                        const std::atomic<bool>* cancel = nullptr);

} // namespace e2kvm::backup

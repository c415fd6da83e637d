// verifyPoints: recompute checksums and check every file of a backup directory.
#include "app/backup/BackupOperations.h"
#include "app/backup/FileChecksum.h"

#include "block/ImageCheck.h"
#include "block/ImageDescription.h"
#include "block/ImageOpen.h"

#include <set>
#include <stdexcept>
#include <sys/stat.h>

namespace e2kvm::backup {

namespace {

// What is wrong with one point's file, or "" if nothing.
std::string problemOf(const BackupRepository& repo, const RestorePoint& p,
                      const RestorePoint* previous, const std::function<void(uint64_t)>& advance,
                      const std::atomic<bool>* cancel) {
    std::string path = repo.pathOf(p);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return p.file + " is missing";
    std::string sum = sha256OfFile(path, advance, cancel);
    if (sum != p.sha256)
        return p.file + ": checksum mismatch (the file changed after it was written: sha256 " +
               sum + ", expected " + p.sha256 + ")";
    block::OpenOptions oo;
    oo.format = "qcow2";
    oo.readOnly = true;
    oo.openBacking = false;
    std::unique_ptr<block::BlockDriver> image;
    try {
        image = block::openImage(path, oo);
    } catch (const std::exception& e) {
        return p.file + ": not a readable qcow2 image: " + e.what();
    }
    if (image->size() != p.virtualSize)
        return p.file + ": disk size " + std::to_string(image->size()) + ", expected " +
               std::to_string(p.virtualSize);
    block::ImageDescription d;
    image->describe(d);
    image.reset();
    if (p.type == PointType::Full && !d.backingFilename.empty())
        return p.file + ": a full point with a backing file (" + d.backingFilename + ")";
    if (p.type == PointType::Incremental) {
        if (!previous)
            return p.file + ": an incremental point without an earlier point";
        if (d.backingFilename != previous->file)
            return p.file + ": backing file '" + d.backingFilename + "', expected '" +
                   previous->file + "'";
    }
    try {
        block::CheckResult r = block::checkImage(path, "qcow2", block::RepairMode::None);
        if (r.corruptions || r.checkErrors)
            return p.file + ": " + std::to_string(r.corruptions + r.checkErrors) +
                   " error(s) in the qcow2 metadata" +
                   (r.messages.empty() ? std::string() : " (" + r.messages.front() + ")");
    } catch (const std::exception& e) {
        return p.file + ": check failed: " + e.what();
    }
    return {};
}

} // namespace

VerifyReport verifyPoints(BackupRepository& repo, std::optional<uint64_t> point,
                          const ProgressSink& progress, const std::atomic<bool>* cancel) {
    std::vector<RestorePoint> todo;
    if (point)
        todo = repo.chainOf(*point);
    else
        todo = repo.points();
    uint64_t all = 0, done = 0;
    for (const RestorePoint& p : todo)
        all += p.storedBytes;
    if (progress)
        progress(0, all);
    VerifyReport report;
    const auto& points = repo.points();
    for (const RestorePoint& p : todo) {
        const RestorePoint* previous = nullptr;
        for (size_t i = 1; i < points.size(); ++i)
            if (points[i].number == p.number)
                previous = &points[i - 1];
        std::string problem = problemOf(
            repo, p, previous,
            [&](uint64_t n) {
                done += n;
                if (progress)
                    progress(std::min(done, all), all);
            },
            cancel);
        report.checked.push_back(p.number);
        RestorePoint updated = *repo.find(p.number);
        updated.verified = problem.empty();
        updated.verifiedTime = utcNow();
        if (!problem.empty())
            report.issues.push_back({p.number, problem});
        repo.update(updated);
    }
    // A point whose base is broken cannot be restored either.
    std::set<uint64_t> bad;
    for (const VerifyIssue& i : report.issues)
        bad.insert(i.point);
    bool brokenBelow = false;
    for (const RestorePoint& p : todo) {
        if (p.type == PointType::Full)
            brokenBelow = false;
        if (bad.count(p.number)) {
            brokenBelow = true;
        } else if (brokenBelow) {
            report.issues.push_back(
                {p.number, p.file + " is intact, but a point it depends on is not"});
            RestorePoint updated = *repo.find(p.number);
            updated.verified = false;
            repo.update(updated);
        }
    }
    return report;
}

} // namespace e2kvm::backup

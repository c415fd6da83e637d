// prunePoints: keep the newest points, merging older ones into the oldest kept point.
#include "app/backup/BackupOperations.h"
#include "app/backup/FileChecksum.h"

#include "block/ImageCopy.h"
#include "block/ImageOpen.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::backup {

PruneReport prunePoints(BackupRepository& repo, unsigned keep, const ProgressSink& progress,
                        const std::atomic<bool>* cancel) {
    if (keep == 0)
        throw std::runtime_error("--keep must be at least 1");
    PruneReport report;
    std::vector<RestorePoint> points = repo.points();
    if (points.size() <= keep)
        return report;
    size_t first = points.size() - keep;
    std::vector<RestorePoint> kept(points.begin() + long(first), points.end());
    for (size_t i = 0; i < first; ++i)
        report.removed.push_back(points[i].number);
    RestorePoint& oldest = kept.front();
    if (oldest.type == PointType::Full) {
        repo.replacePoints(kept, "");
        return report;
    }
    // The oldest kept point becomes a full point holding the whole chain up to it.
    block::OpenOptions oo;
    oo.format = "qcow2";
    oo.readOnly = true;
    std::unique_ptr<block::BlockDriver> chain = block::openImage(repo.pathOf(oldest), oo);
    std::string merged = repo.partialPathFor(oldest.number) + ".merge";
    block::CreateOptions co;
    co.format = "qcow2";
    co.size = chain->size();
    co.sizeGiven = true;
    // The merged point is stored as the point was: compressed if it was.
    if (!oldest.compression.empty())
        co.compressionType = oldest.compression;
    try {
        block::createImage(merged, co);
        block::OpenOptions to;
        to.format = "qcow2";
        to.readOnly = false;
        std::unique_ptr<block::BlockDriver> target = block::openImage(merged, to);
        block::CopySettings cs;
        cs.targetReadsZero = true;
        cs.compress = !oldest.compression.empty();
        uint64_t done = 0, all = chain->size();
        block::copyImage(*chain, *target, cs, [&](uint64_t n) {
            if (cancel && cancel->load())
                throw std::runtime_error("interrupted");
            done += n;
            if (progress)
                progress(done, all);
        });
        target->flush();
        target.reset();
        chain.reset();
        oldest.type = PointType::Full;
        oldest.baseBitmap.clear();
        oldest.sha256 = sha256OfFile(merged, {}, cancel);
        struct stat st {};
        if (::stat(merged.c_str(), &st) != 0)
            throw std::runtime_error(merged + ": " + std::strerror(errno));
        oldest.storedBytes = uint64_t(st.st_size);
        oldest.verified = false;
        oldest.verifiedTime.clear();
    } catch (...) {
        ::unlink(merged.c_str());
        throw;
    }
    repo.replacePoints(kept, merged);
    report.merged = oldest.number;
    return report;
}

} // namespace e2kvm::backup

// takeBackup: one restore point from a source into a backup directory.
#include "app/backup/BackupOperations.h"
#include "app/backup/EarlyWriteback.h"
#include "app/backup/FileChecksum.h"
#include "app/backup/PointCopy.h"

#include "block/ImageOpen.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::backup {

namespace {

void fsyncDirectory(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(dir + ": " + std::strerror(errno));
    int r = ::fsync(fd);
    ::close(fd);
    if (r != 0)
        throw std::runtime_error(dir + ": fsync: " + std::strerror(errno));
}

uint64_t fileSize(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(path + ": " + std::strerror(errno));
    return uint64_t(st.st_size);
}

uint64_t total(const std::vector<ByteRange>& ranges) {
    uint64_t t = 0;
    for (const ByteRange& r : ranges)
        t += r.length;
    return t;
}

} // namespace

RestorePoint takeBackup(BackupRepository& repo, BackupSource& source,
                        const BackupOptions& options) {
    auto note = [&](const std::string& text) {
        if (options.note)
            options.note(text);
    };
    const RestorePoint* latest = repo.latest();
    if (options.incremental && !latest)
        note("taking a full point: " + repo.directory() + " has no points yet");
    uint64_t number = repo.reserveNumber();

    SourcePlan plan;
    plan.incremental = options.incremental && latest;
    plan.base = latest ? latest->checkpoint : std::string();
    plan.next = source.keepsCheckpoints() ? repo.checkpointName(number) : std::string();
    plan.checkpointPrefix = repo.checkpointPrefix();
    plan.objectPrefix = "e2kb-" + repo.id() + "-";
    plan.overlayPath = repo.overlayPathFor(number);
    plan.maxReaders = std::max(1u, options.connections);

    RestorePoint point;
    point.number = number;
    point.file = BackupRepository::fileNameFor(number);
    point.source = source.describe();
    point.time = utcNow();
    std::string part = repo.partialPathFor(number);
    bool stored = false;
    std::unique_ptr<SourceView> view;
    try {
        view = source.open(plan, note);
        std::optional<std::vector<ByteRange>> changed = view->changed();
        point.type = changed ? PointType::Incremental : PointType::Full;
        point.baseBitmap = source.baseUsed();
        point.checkpoint = plan.next;
        point.virtualSize = view->size();

        std::vector<ByteRange> allocation = view->allocation();
        std::vector<ByteRange> work = changed ? intersect(*changed, allocation) : allocation;
        point.changedBytes = changed ? total(*changed) : point.virtualSize;

        block::CreateOptions co;
        co.format = "qcow2";
        co.size = point.virtualSize;
        co.sizeGiven = true;
        if (!options.compression.empty())
            co.compressionType = options.compression;
        point.compression = options.compression;
        if (changed) {
            co.backingFile = latest->file;
            co.backingFormat = "qcow2";
        }
        block::createImage(part, co);
        block::OpenOptions oo;
        oo.format = "qcow2";
        oo.readOnly = false;
        oo.openBacking = false;
        std::unique_ptr<block::BlockDriver> target = block::openImage(part, oo);

        uint64_t all = total(work), done = 0;
        if (options.progress)
            options.progress(0, all);
        EarlyWriteback writeback(part);
        std::function<void(uint64_t)> advance = [&](uint64_t n) {
            writeback.wrote(n);
            done += n;
            if (options.progress)
                options.progress(done, all);
        };
        CopyTotals copied =
            copyRanges(*view, *target, work, {bool(changed), !options.compression.empty()}, advance,
                       options.cancel);
        point.copiedBytes = copied.dataBytes + copied.zeroBytes;
        target->flush();
        target.reset();
        view.reset();
        if (options.cancel && options.cancel->load())
            throw std::runtime_error("interrupted");

        point.sha256 = sha256OfFile(part, {}, options.cancel);
        point.storedBytes = fileSize(part);
        std::string final = repo.pathOf(point.file);
        if (::rename(part.c_str(), final.c_str()) != 0)
            throw std::runtime_error(final + ": " + std::strerror(errno));
        fsyncDirectory(repo.directory());
        repo.append(point);
        stored = true;
    } catch (const std::exception& e) {
        view.reset();
        std::string cleanup;
        try {
            source.finish(false);
        } catch (const std::exception& f) {
            cleanup = std::string("; cleaning up also failed: ") + f.what();
        }
        ::unlink(part.c_str());
        ::unlink(repo.pathOf(point.file).c_str());
        throw std::runtime_error(std::string(e.what()) + cleanup);
    }
    try {
        source.finish(stored);
    } catch (const std::exception& e) {
        note(std::string("warning: the point is stored, but ") + e.what() +
             " (the next backup settles it)");
    }
    if (options.keep) {
        PruneReport pr = prunePoints(repo, *options.keep);
        if (!pr.removed.empty())
            note("pruned " + std::to_string(pr.removed.size()) + " old point(s) to keep " +
                 std::to_string(*options.keep));
    }
    return point;
}

} // namespace e2kvm::backup

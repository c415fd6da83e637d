// restorePoint: the disk as it was at a restore point, written to a new file.
#include "app/backup/BackupOperations.h"
#include "app/backup/EarlyWriteback.h"

#include "block/ImageCopy.h"
#include "block/ImageOpen.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::backup {

RestorePoint restorePoint(const BackupRepository& repo, const std::string& output,
                          const RestoreOptions& options) {
    if (repo.points().empty())
        throw std::runtime_error(repo.directory() + ": there are no restore points yet");
    uint64_t number = options.point ? *options.point : repo.latest()->number;
    const RestorePoint* p = repo.find(number);
    if (!p)
        throw std::runtime_error(repo.directory() + ": there is no point " +
                                 std::to_string(number) + " (see e2kvm-backup list)");
    if (options.format != "raw" && options.format != "qcow2")
        throw std::runtime_error("cannot restore as '" + options.format + "': use raw or qcow2");
    std::vector<RestorePoint> chain = repo.chainOf(number);
    struct stat st {};
    if (::stat(output.c_str(), &st) == 0 && !options.overwrite)
        throw std::runtime_error(output + " already exists; choose another file, or remove it "
                                          "first if it is to be replaced");
    block::OpenOptions oo;
    oo.format = "qcow2";
    oo.readOnly = true;
    std::unique_ptr<block::BlockDriver> source;
    try {
        source = block::openImage(repo.pathOf(*p), oo);
    } catch (const std::exception& e) {
        throw std::runtime_error("point " + std::to_string(number) +
                                 " cannot be read: " + e.what() + " (run e2kvm-backup verify)");
    }
    size_t slash = output.rfind('/');
    std::string dir = slash == std::string::npos ? "." : output.substr(0, slash);
    std::string base = slash == std::string::npos ? output : output.substr(slash + 1);
    std::string tmp = dir + "/." + base + ".restoring-" + std::to_string(::getpid());
    block::CreateOptions co;
    co.format = options.format;
    co.size = source->size();
    co.sizeGiven = true;
    try {
        block::createImage(tmp, co);
        block::OpenOptions to;
        to.format = options.format;
        to.readOnly = false;
        std::unique_ptr<block::BlockDriver> target = block::openImage(tmp, to);
        block::CopySettings cs;
        cs.targetReadsZero = true;
        uint64_t done = 0, all = source->size();
        if (options.progress)
            options.progress(0, all);
        EarlyWriteback writeback(tmp);
        block::copyImage(*source, *target, cs, [&](uint64_t n) {
            if (options.cancel && options.cancel->load())
                throw std::runtime_error("interrupted");
            writeback.wrote(n);
            done += n;
            if (options.progress)
                options.progress(done, all);
        });
        target->flush();
        target.reset();
        if (options.cancel && options.cancel->load())
            throw std::runtime_error("interrupted");
        if (::rename(tmp.c_str(), output.c_str()) != 0)
            throw std::runtime_error(output + ": " + std::strerror(errno));
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    return *p;
}

} // namespace e2kvm::backup

#include "app/backup/BackupRepository.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::backup {

using json::Json;

namespace {

const char* kManifest = "e2kvm-backup.json";
const char* kFormat = "e2kvm-backup";
const int kVersion = 1;

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

void fsyncPath(const std::string& path, bool directory) {
    int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        throw std::runtime_error(errnoText(path));
    int r = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (r != 0) {
        errno = e;
        throw std::runtime_error(errnoText(path + ": fsync"));
    }
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

std::string randomId() {
    unsigned char b[4];
    if (::getrandom(b, sizeof b, 0) != ssize_t(sizeof b))
        throw std::runtime_error(errnoText("getrandom"));
    char out[9];
    std::snprintf(out, sizeof out, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    return out;
}

bool isDigits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

} // namespace

BackupRepository::BackupRepository(const std::string& directory, Access access)
    : dir_(directory), access_(access) {
    while (dir_.size() > 1 && dir_.back() == '/')
        dir_.pop_back();
    if (dir_.empty())
        throw std::runtime_error("no backup directory given");
    struct stat st {};
    if (::stat(dir_.c_str(), &st) != 0) {
        if (errno != ENOENT || access == Access::Read)
            throw std::runtime_error(errnoText(dir_));
        if (::mkdir(dir_.c_str(), 0755) != 0)
            throw std::runtime_error(errnoText("cannot create the backup directory " + dir_));
    } else if (!S_ISDIR(st.st_mode)) {
        throw std::runtime_error(dir_ + ": not a directory");
    }
    std::string manifest = pathOf(kManifest);
    if (access == Access::Read) {
        if (!exists(manifest))
            throw std::runtime_error(dir_ + ": not a backup directory (no " + kManifest + ")");
        load();
        return;
    }
    std::string lockPath = pathOf(".lock");
    lockFd_ = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockFd_ < 0)
        throw std::runtime_error(errnoText("cannot write in the backup directory " + dir_));
    if (::flock(lockFd_, LOCK_EX | LOCK_NB) != 0) {
        ::close(lockFd_);
        lockFd_ = -1;
        throw std::runtime_error(dir_ + ": another e2kvm-backup is working on this directory; wait "
                                        "for it to finish");
    }
    try {
        if (exists(manifest)) {
            load();
        } else {
            bool empty = true;
            if (DIR* d = ::opendir(dir_.c_str())) {
                while (dirent* e = ::readdir(d)) {
                    std::string n = e->d_name;
                    // A run killed while creating the directory leaves only these.
                    if (n != "." && n != ".." && n != ".lock" &&
                        n != std::string(kManifest) + ".tmp")
                        empty = false;
                }
                ::closedir(d);
            }
            if (!empty)
                throw std::runtime_error(dir_ + ": not a backup directory and not empty; choose "
                                                "an empty or new directory for backups");
            id_ = randomId();
            save();
        }
        recover();
    } catch (...) {
        ::close(lockFd_);
        lockFd_ = -1;
        throw;
    }
}

BackupRepository::~BackupRepository() {
    if (lockFd_ >= 0)
        ::close(lockFd_);
}

void BackupRepository::load() {
    std::string manifest = pathOf(kManifest);
    std::ifstream in(manifest, std::ios::binary);
    if (!in)
        throw std::runtime_error(errnoText(manifest));
    std::stringstream ss;
    ss << in.rdbuf();
    Json j;
    try {
        j = json::parseJson(ss.str());
    } catch (const json::JsonError& e) {
        throw std::runtime_error(manifest + ": not valid JSON: " + e.what());
    }
    auto fail = [&](const std::string& why) { return std::runtime_error(manifest + ": " + why); };
    const Json* fmt = j.find("format");
    if (!j.isObject() || !fmt || !fmt->isString() || fmt->asString() != kFormat)
        throw fail("not an e2kvm-backup manifest");
    const Json* ver = j.find("version");
    if (!ver || !ver->isInteger() || ver->asInt() != kVersion)
        throw fail("manifest version not supported by this e2kvm-backup");
    const Json* id = j.find("id");
    if (!id || !id->isString() || id->asString().empty() ||
        id->asString().find_first_not_of("0123456789abcdef") != std::string::npos)
        throw fail("bad directory id");
    id_ = id->asString();
    const Json* next = j.find("next-point");
    const Json* pts = j.find("points");
    if (!next || !next->isInteger() || !pts || !pts->isArray())
        throw fail("missing 'next-point' or 'points'");
    nextNumber_ = next->asUInt();
    points_.clear();
    try {
        for (const Json& p : pts->asArray())
            points_.push_back(restorePointFromJson(p));
    } catch (const std::runtime_error& e) {
        throw fail(e.what());
    }
    for (size_t i = 0; i < points_.size(); ++i) {
        if (points_[i].number >= nextNumber_ ||
            (i > 0 && points_[i].number <= points_[i - 1].number))
            throw fail("point numbers out of order");
    }
    pendingRename_.reset();
    if (const Json* pr = j.find("pending-rename")) {
        const Json* from = pr->find("from");
        const Json* to = pr->find("to");
        if (!from || !to || !from->isString() || !to->isString() ||
            from->asString().find('/') != std::string::npos ||
            to->asString().find('/') != std::string::npos)
            throw fail("bad 'pending-rename'");
        pendingRename_ = {from->asString(), to->asString()};
    }
}

void BackupRepository::save() {
    Json pts = Json::array();
    for (const RestorePoint& p : points_)
        pts.push(toJson(p));
    Json j = Json::object({{"format", kFormat},
                           {"version", kVersion},
                           {"id", id_},
                           {"next-point", nextNumber_},
                           {"points", std::move(pts)}});
    if (pendingRename_)
        j.set("pending-rename",
              Json::object({{"from", pendingRename_->first}, {"to", pendingRename_->second}}));
    std::string text = j.serialize() + "\n";
    std::string tmp = pathOf(std::string(kManifest) + ".tmp");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw std::runtime_error(errnoText(tmp));
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            errno = e;
            throw std::runtime_error(errnoText(tmp));
        }
        done += size_t(n);
    }
    if (::fsync(fd) != 0) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        errno = e;
        throw std::runtime_error(errnoText(tmp + ": fsync"));
    }
    ::close(fd);
    if (::rename(tmp.c_str(), pathOf(kManifest).c_str()) != 0)
        throw std::runtime_error(errnoText(pathOf(kManifest)));
    fsyncPath(dir_, true);
}

void BackupRepository::recover() {
    finishPendingRename();
    removeUnlisted();
}

void BackupRepository::finishPendingRename() {
    if (!pendingRename_)
        return;
    std::string from = pathOf(pendingRename_->first), to = pathOf(pendingRename_->second);
    if (exists(from)) {
        if (::rename(from.c_str(), to.c_str()) != 0)
            throw std::runtime_error(errnoText("finishing an interrupted prune: " + to));
        fsyncPath(dir_, true);
    }
    pendingRename_.reset();
    save();
}

void BackupRepository::removeUnlisted() {
    std::set<std::string> listed;
    for (const RestorePoint& p : points_)
        listed.insert(p.file);
    std::vector<std::string> remove;
    DIR* d = ::opendir(dir_.c_str());
    if (!d)
        throw std::runtime_error(errnoText(dir_));
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        bool ours = false;
        if (n.rfind("point-", 0) == 0 && n.size() > 12 && n.compare(n.size() - 6, 6, ".qcow2") == 0)
            ours = isDigits(n.substr(6, n.size() - 12)) && !listed.count(n);
        else if (n.rfind(".point-", 0) == 0 || n.rfind(".fleece-", 0) == 0 ||
                 n == std::string(kManifest) + ".tmp")
            ours = true;
        if (ours)
            remove.push_back(n);
    }
    ::closedir(d);
    for (const std::string& n : remove)
        ::unlink(pathOf(n).c_str());
}

const RestorePoint* BackupRepository::find(uint64_t number) const {
    for (const RestorePoint& p : points_)
        if (p.number == number)
            return &p;
    return nullptr;
}

std::vector<RestorePoint> BackupRepository::chainOf(uint64_t number) const {
    std::vector<RestorePoint> chain;
    size_t i = 0;
    while (i < points_.size() && points_[i].number != number)
        ++i;
    if (i == points_.size())
        throw std::runtime_error(dir_ + ": there is no point " + std::to_string(number));
    for (;;) {
        chain.insert(chain.begin(), points_[i]);
        if (points_[i].type == PointType::Full)
            return chain;
        if (i == 0)
            throw std::runtime_error(dir_ + ": point " + std::to_string(number) +
                                     " is incremental but no full point precedes it");
        --i;
    }
}

uint64_t BackupRepository::reserveNumber() {
    uint64_t n = nextNumber_++;
    save();
    return n;
}

std::string BackupRepository::fileNameFor(uint64_t number) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "point-%04llu.qcow2", static_cast<unsigned long long>(number));
    return buf;
}

std::string BackupRepository::partialPathFor(uint64_t number) const {
    return pathOf("." + fileNameFor(number) + ".part");
}

std::string BackupRepository::overlayPathFor(uint64_t number) const {
    return pathOf(".fleece-" + std::to_string(number) + ".qcow2");
}

std::string BackupRepository::checkpointName(uint64_t number) const {
    return checkpointPrefix() + std::to_string(number);
}

std::optional<uint64_t> BackupRepository::checkpointNumber(const std::string& bitmap) const {
    std::string prefix = checkpointPrefix();
    if (bitmap.rfind(prefix, 0) != 0)
        return std::nullopt;
    std::string rest = bitmap.substr(prefix.size());
    if (!isDigits(rest) || rest.size() > 18)
        return std::nullopt;
    return std::stoull(rest);
}

void BackupRepository::append(const RestorePoint& p) {
    if (access_ != Access::Write)
        throw std::logic_error("BackupRepository::append on a read-only repository");
    if (!points_.empty() && p.number <= points_.back().number)
        throw std::logic_error("BackupRepository::append: point numbers must grow");
    points_.push_back(p);
    try {
        save();
    } catch (...) {
        points_.pop_back();
        throw;
    }
}

void BackupRepository::update(const RestorePoint& p) {
    if (access_ != Access::Write)
        throw std::logic_error("BackupRepository::update on a read-only repository");
    for (RestorePoint& q : points_)
        if (q.number == p.number) {
            RestorePoint old = q;
            q = p;
            try {
                save();
            } catch (...) {
                q = old;
                throw;
            }
            return;
        }
    throw std::logic_error("BackupRepository::update: no such point");
}

void BackupRepository::replacePoints(std::vector<RestorePoint> kept,
                                     const std::string& replacementPath) {
    if (access_ != Access::Write)
        throw std::logic_error("BackupRepository::replacePoints on a read-only repository");
    std::vector<RestorePoint> old = points_;
    points_ = std::move(kept);
    if (!replacementPath.empty()) {
        if (points_.empty())
            throw std::logic_error("replacePoints: a replacement needs a kept point");
        std::string from = replacementPath.substr(replacementPath.rfind('/') + 1);
        pendingRename_ = {from, points_.front().file};
    }
    try {
        save();
    } catch (...) {
        points_ = old;
        pendingRename_.reset();
        throw;
    }
    finishPendingRename();
    removeUnlisted();
}

} // namespace e2kvm::backup

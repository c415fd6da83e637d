#include "app/vmcore/FuseExport.h"

#define FUSE_USE_VERSION 31
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <vector>

namespace e2kvm::vm {

struct FuseExport::State {
    std::shared_ptr<block::BlockDriver> image;
    FuseExportOptions options;
    bool allowOther = false;
    // The file's attributes chmod/chown change (only the loop thread touches them).
    mode_t mode = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    fuse_session* session = nullptr;
    bool mounted = false;
    int wakeFd = -1; // written to stop the loop
    std::thread loop;

    void serve();
    void stop();
};

namespace {

FuseExport::State& stateOf(fuse_req_t req) {
    return *static_cast<FuseExport::State*>(fuse_req_userdata(req));
}

// The errno a failed block-layer call reports to the file's user.
template <typename F> int errnoOf(F&& call) {
    try {
        call();
        return 0;
    } catch (const block::BlockError& e) {
        return e.errnoValue() > 0 ? e.errnoValue() : EIO;
    } catch (const std::bad_alloc&) {
        return ENOMEM;
    } catch (const std::exception&) {
        return EIO;
    }
}

void replyAttributes(fuse_req_t req, fuse_ino_t inode) {
    FuseExport::State& s = stateOf(req);
    struct stat st {};
    const uint64_t length = s.image->size();
    uint64_t allocated = 0;
    errnoOf([&] { allocated = s.image->allocatedBytes(); });
    if (allocated == 0)
        allocated = length;
    const time_t now = time(nullptr);
    st.st_ino = inode;
    st.st_mode = s.mode;
    st.st_nlink = 1;
    st.st_uid = s.uid;
    st.st_gid = s.gid;
    st.st_size = off_t(length);
    st.st_blksize = 512;
    st.st_blocks = blkcnt_t((allocated + 511) / 512);
    st.st_atime = st.st_mtime = st.st_ctime = now;
    fuse_reply_attr(req, &st, 1.0);
}

// Only the mountpoint itself exists.
void onLookup(fuse_req_t req, fuse_ino_t, const char*) {
    fuse_reply_err(req, ENOENT);
}

void onGetattr(fuse_req_t req, fuse_ino_t inode, fuse_file_info*) {
    replyAttributes(req, inode);
}

// Size and mode (owner and group too with allow_other). A mode may not promise what the
// export cannot give: write access to a read-only export (EROFS), access for others without
// allow_other (EPERM).
void onSetattr(fuse_req_t req, fuse_ino_t inode, struct stat* attr, int toSet, fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    int supported = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_MODE;
    if (s.allowOther)
        supported |= FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID;
    if (toSet & ~supported) {
        fuse_reply_err(req, ENOTSUP);
        return;
    }
    if (toSet & FUSE_SET_ATTR_MODE) {
        if (!s.allowOther && (attr->st_mode & (S_IRWXG | S_IRWXO))) {
            fuse_reply_err(req, EPERM);
            return;
        }
        if (!s.options.writable && (attr->st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
            fuse_reply_err(req, EROFS);
            return;
        }
    }
    if (toSet & FUSE_SET_ATTR_SIZE) {
        if (!s.options.writable) {
            fuse_reply_err(req, EACCES);
            return;
        }
        if (int err = errnoOf([&] { s.image->truncate(uint64_t(attr->st_size)); })) {
            fuse_reply_err(req, err);
            return;
        }
    }
    if (toSet & FUSE_SET_ATTR_MODE)
        s.mode = (attr->st_mode & 07777) | S_IFREG;
    if (toSet & FUSE_SET_ATTR_UID)
        s.uid = attr->st_uid;
    if (toSet & FUSE_SET_ATTR_GID)
        s.gid = attr->st_gid;
    replyAttributes(req, inode);
}

void onOpen(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    fuse_reply_open(req, fi);
}

// Short at the end of the node: readers such as cp expect that.
void onRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    const uint64_t length = s.image->size();
    if (offset < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    const uint64_t start = uint64_t(offset);
    const size_t n = start >= length ? 0 : size_t(std::min<uint64_t>(size, length - start));
    std::vector<uint8_t> buf;
    if (int err = errnoOf([&] {
            buf.resize(n);
            if (n)
                s.image->read(start, buf);
        })) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf.data()), n);
}

// Past the end: a growable export grows first; another writes what fits (the kernel turns the
// short write into EIO).
void onWrite(fuse_req_t req, fuse_ino_t, const char* data, size_t size, off_t offset,
             fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    if (!s.options.writable) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (offset < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    const uint64_t start = uint64_t(offset);
    const uint64_t length = s.image->size();
    size_t n = size;
    if (start + size > length) {
        if (s.options.growable) {
            if (int err = errnoOf([&] { s.image->truncate(start + size); })) {
                fuse_reply_err(req, err);
                return;
            }
        } else if (start >= length) {
            fuse_reply_err(req, EIO);
            return;
        } else {
            n = size_t(length - start);
        }
    }
    if (int err = errnoOf([&] {
            s.image->write(start, std::span(reinterpret_cast<const uint8_t*>(data), n));
            if (s.options.writethrough)
                s.image->flush();
        })) {
        fuse_reply_err(req, err);
        return;
    }
    fuse_reply_write(req, n);
}

// Mode 0 reserves space at the end (the node grows, preallocated); punching a hole discards,
// zeroing a range writes zeros (growing the node unless told to keep its size).
int fallocateRange(FuseExport::State& s, int mode, uint64_t offset, uint64_t length) {
    const uint64_t size = s.image->size();
    if (mode & FALLOC_FL_KEEP_SIZE)
        length = offset >= size ? 0 : std::min(length, size - offset);
    if (mode == 0) {
        if (offset < size)
            return EOPNOTSUPP;
        return errnoOf([&] {
            if (offset > size)
                s.image->truncate(offset);
            s.image->truncate(offset + length, block::Preallocation::Falloc);
        });
    }
    if (mode & FALLOC_FL_PUNCH_HOLE) {
        if (!(mode & FALLOC_FL_KEEP_SIZE))
            return EINVAL;
        return errnoOf([&] {
            if (length && s.options.discardUnmaps)
                s.image->discard(offset, length);
        });
    }
    if (mode & FALLOC_FL_ZERO_RANGE) {
        return errnoOf([&] {
            if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + length > size)
                s.image->truncate(offset + length);
            if (length)
                s.image->writeZeroes(offset, length);
        });
    }
    return EOPNOTSUPP;
}

void onFallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length,
                 fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    if (!s.options.writable) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (offset < 0 || length <= 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    fuse_reply_err(req, fallocateRange(s, mode, uint64_t(offset), uint64_t(length)));
}

void onFsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    fuse_reply_err(req, errnoOf([&] { s.image->flush(); }));
}

// Every close of the file: the last chance to report a failed write-back.
void onFlush(fuse_req_t req, fuse_ino_t inode, fuse_file_info* fi) {
    onFsync(req, inode, 1, fi);
}

// SEEK_DATA / SEEK_HOLE over the node and its backing chain: data is what any layer stores
// as data, a hole what reads as zero or is stored nowhere.
void onLseek(fuse_req_t req, fuse_ino_t, off_t offset, int whence, fuse_file_info*) {
    FuseExport::State& s = stateOf(req);
    if (whence != SEEK_DATA && whence != SEEK_HOLE) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    const uint64_t size = s.image->size();
    // The end of the file is where its last hole begins; past it there is nothing.
    if (offset < 0 || uint64_t(offset) > size ||
        (uint64_t(offset) == size && whence == SEEK_DATA)) {
        fuse_reply_err(req, ENXIO);
        return;
    }
    uint64_t pos = uint64_t(offset);
    int err = errnoOf([&] {
        while (pos < size) {
            // The shortest extent any layer reports at pos, and whether one stores data there.
            uint64_t run = size - pos;
            bool data = false;
            for (block::BlockDriver* layer = s.image.get(); layer && !data;
                 layer = layer->backing()) {
                if (pos >= layer->size())
                    break;
                block::LayerExtent e = layer->layerStatus(pos, run);
                run = std::min(run, std::max<uint64_t>(e.length, 1));
                data = e.kind == block::Allocation::Data;
                if (e.kind != block::Allocation::Unallocated)
                    break;
            }
            if (data == (whence == SEEK_DATA))
                return;
            pos += run;
        }
    });
    if (err)
        fuse_reply_err(req, err);
    else if (pos >= size && whence == SEEK_DATA)
        fuse_reply_err(req, ENXIO);
    else
        fuse_reply_lseek(req, off_t(std::min(pos, size)));
}

const fuse_lowlevel_ops kOperations = [] {
    fuse_lowlevel_ops ops{};
    ops.lookup = onLookup;
    ops.getattr = onGetattr;
    ops.setattr = onSetattr;
    ops.open = onOpen;
    ops.read = onRead;
    ops.write = onWrite;
    ops.fallocate = onFallocate;
    ops.flush = onFlush;
    ops.fsync = onFsync;
    ops.lseek = onLseek;
    return ops;
}();

// The session mounted on `mountpoint`, or null if it could not be mounted.
fuse_session* mountSession(FuseExport::State& s, bool allowOther) {
    std::string options = std::string("default_permissions") + (allowOther ? ",allow_other" : "");
    std::string program = "e2kvm";
    std::string dashO = "-o";
    char* argv[] = {program.data(), dashO.data(), options.data(), nullptr};
    fuse_args args = FUSE_ARGS_INIT(3, argv);
    fuse_session* session = fuse_session_new(&args, &kOperations, sizeof kOperations, &s);
    fuse_opt_free_args(&args); // the copy of the arguments option parsing may have made
    if (!session)
        return nullptr;
    if (fuse_session_mount(session, s.options.mountpoint.c_str()) != 0) {
        fuse_session_destroy(session);
        return nullptr;
    }
    return session;
}

} // namespace

void FuseExport::State::serve() {
    fuse_buf buf{};
    const int fd = fuse_session_fd(session);
    for (;;) {
        pollfd fds[2] = {{wakeFd, POLLIN, 0}, {fd, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents)
            break;
        if (fds[1].revents & (POLLERR | POLLHUP | POLLNVAL))
            break;
        if (!(fds[1].revents & POLLIN))
            continue;
        int n = fuse_session_receive_buf(session, &buf);
        if (n == -EINTR || n == -EAGAIN)
            continue;
        if (n <= 0) // unmounted, or the connection aborted
            break;
        fuse_session_process_buf(session, &buf);
    }
    free(buf.mem);
}

void FuseExport::State::stop() {
    if (loop.joinable()) {
        uint64_t one = 1;
        ssize_t written = write(wakeFd, &one, sizeof one);
        (void)written;
        loop.join();
    }
    if (session) {
        // Closes the device first (requests still queued fail), then detaches the mount.
        if (mounted)
            fuse_session_unmount(session);
        fuse_session_destroy(session);
        session = nullptr;
    }
    if (wakeFd >= 0)
        close(wakeFd);
    wakeFd = -1;
}

FuseExport::FuseExport(std::shared_ptr<block::BlockDriver> image, const FuseExportOptions& options)
    : state_(std::make_unique<State>()) {
    State& s = *state_;
    s.image = std::move(image);
    s.options = options;
    const std::string& path = options.mountpoint;
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
        throw std::runtime_error("Failed to stat '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        throw std::runtime_error("'" + path + "' is not a regular file");
    s.mode = S_IFREG | S_IRUSR | (options.writable ? S_IWUSR : 0);
    s.uid = getuid();
    s.gid = getgid();
    s.wakeFd = eventfd(0, EFD_CLOEXEC);
    if (s.wakeFd < 0)
        throw std::runtime_error(std::string("Failed to set up FUSE session: ") +
                                 std::strerror(errno));
    if (options.allowOther == FuseAllowOther::Auto) {
        s.allowOther = true;
        s.session = mountSession(s, true);
        if (!s.session) {
            s.allowOther = false;
            s.session = mountSession(s, false);
        }
    } else {
        s.allowOther = options.allowOther == FuseAllowOther::On;
        s.session = mountSession(s, s.allowOther);
    }
    if (!s.session) {
        s.stop();
        throw std::runtime_error("Failed to mount FUSE session to export");
    }
    s.mounted = true;
    try {
        s.loop = std::thread([&s] { s.serve(); });
    } catch (...) {
        s.stop();
        throw;
    }
}

FuseExport::~FuseExport() {
    state_->stop();
}

const std::string& FuseExport::mountpoint() const {
    return state_->options.mountpoint;
}

bool FuseExport::allowOther() const {
    return state_->allowOther;
}

} // namespace e2kvm::vm

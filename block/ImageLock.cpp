#include "ImageLock.h"

#include "BlockError.h"

#include <cerrno>
#include <cstring>
#include <exception>
#include <fcntl.h>

namespace e2kvm::block {

namespace {

constexpr unsigned kPermissionCount = 4;
// QEMU's names of the permissions in its lock messages.
constexpr const char* kPermissionNames[kPermissionCount] = {"consistent read", "write",
                                                            "write unchanged", "resize"};
constexpr off_t kHeldBase = 100;
constexpr off_t kUnsharedBase = 200;
constexpr const char* kConflictQuestion = "\nIs another process using the image [";

struct flock byteLock(short type, off_t byte) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    return fl;
}

void takeByte(int fd, const std::string& path, off_t byte) {
    struct flock fl = byteLock(F_RDLCK, byte);
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        throwError(e, path,
                   std::string("Failed to lock byte ") + std::to_string(byte) + ": " +
                       std::strerror(e));
    }
}

// True when another open file holds a lock on `byte`.
bool othersHold(int fd, const std::string& path, off_t byte) {
    struct flock fl = byteLock(F_WRLCK, byte);
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
        int e = errno;
        throwError(e, path,
                   std::string("Failed to test byte ") + std::to_string(byte) + ": " +
                       std::strerror(e));
    }
    return fl.l_type != F_UNLCK;
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
    throw BlockError(EAGAIN, what + kConflictQuestion + path + "]?");
}

} // namespace

void lockImageFile(int fd, const std::string& path, ImageLocks p) {
    if (p.none())
        return;
    for (unsigned i = 0; i < kPermissionCount; ++i) {
        if (p.held & (1u << i))
            takeByte(fd, path, kHeldBase + i);
        if (p.unshared & (1u << i))
            takeByte(fd, path, kUnsharedBase + i);
    }
    // Ours first, then the check: of two openers racing, at least one sees the other.
    for (unsigned i = 0; i < kPermissionCount; ++i)
        if ((p.held & (1u << i)) && othersHold(fd, path, kUnsharedBase + i))
            refuse(path, std::string("Failed to get \"") + kPermissionNames[i] + "\" lock");
    for (unsigned i = 0; i < kPermissionCount; ++i)
        if ((p.unshared & (1u << i)) && othersHold(fd, path, kHeldBase + i))
            refuse(path, std::string("Failed to get shared \"") + kPermissionNames[i] + "\" lock");
}

bool isImageLockConflict(const std::exception& error) {
    auto* b = dynamic_cast<const BlockError*>(&error);
    return b && b->errnoValue() == EAGAIN &&
           std::string(b->what()).find(kConflictQuestion) != std::string::npos;
}

} // namespace e2kvm::block

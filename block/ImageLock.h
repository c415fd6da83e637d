#pragma once
// ImageLock: QEMU's image locking on an open image file, so that QEMU's tools refuse an image
// one of our processes writes, and ours refuse one QEMU writes. QEMU marks each permission a
// user of the file holds with a shared OFD lock on byte 100 + the permission's bit, and each
// permission it does not let others hold with one on byte 200 + bit; an opener first takes its
// own bytes, then fails if another open file holds a byte it conflicts with. The locks belong
// to the open file description, so they go when the file is closed: two opens of one file in
// one process conflict just as two processes do (QEMU shares the open node instead).
#include <exception>
#include <string>

namespace e2kvm::block {

// QEMU's permission bits (BLK_PERM_*), as they number the lock bytes.
enum ImagePermission : unsigned {
    kPermConsistentRead = 1u << 0,
    kPermWrite = 1u << 1,
    kPermWriteUnchanged = 1u << 2,
    kPermResize = 1u << 3,
};

// What one open of a file holds and what it does not let other opens hold.
struct ImageLocks {
    unsigned held = 0;
    unsigned unshared = 0;
    bool none() const { return held == 0 && unshared == 0; }
};

// Takes `locks` on `fd` (the open file `path`); throws BlockError (EAGAIN) with QEMU's messages
// ('Failed to get "write" lock' or 'Failed to get shared "write" lock', then a line 'Is another
// process using the image [PATH]?'; qemu-img puts "Could not open 'PATH': " before it) when
// another open file conflicts. Does nothing for none().
void lockImageFile(int fd, const std::string& path, ImageLocks locks);

// True for the BlockError lockImageFile() throws when another open file conflicts.
bool isImageLockConflict(const std::exception& error);

} // namespace e2kvm::block

#pragma once
// ImageLock: QEMU's image locking on an open image file, so that QEMU's tools refuse an image
// one of our processes writes, and ours refuse one QEMU writes. QEMU marks each permission a
// user of the file holds with a shared OFD lock on byte 100 + the permission's bit, and each
// permission it does not let others hold with one on byte 200 + bit; an opener first takes its
// own bytes, then fails if another open file holds a byte it conflicts with. The locks belong
// to the open file description, so they go when the file is closed.
#include <string>

namespace e2kvm::block {

enum class ImageLockMode {
    Off,         // file.locking=off: no locks
    ForceShared, // -U / force-share: reads, lets others do anything
    Reader,      // reads, lets no one else write or resize (as QEMU's readers of image metadata)
    Writer,      // reads and writes, lets no one else write or resize (as a qemu-system disk)
};

// Takes the locks of `mode` on `fd` (the open file `path`); throws BlockError with QEMU's
// messages ('Failed to get "write" lock', 'Failed to get shared "write" lock', then 'Is another
// process using the image [PATH]?') when another open file conflicts.
void lockImageFile(int fd, const std::string& path, ImageLockMode mode);

} // namespace e2kvm::block

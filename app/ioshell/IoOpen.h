#pragma once
// IoOpen: how e2kvm-io opens an image, from its command line or from the shell's "open" and
// "reopen" commands, with qemu-io's options: read-only, snapshot (-s: writes go to a temporary
// overlay), force-share (-U), cache and discard modes, a format or QEMU's driver options
// ("-o driver=qcow2,file.locking=off", or the whole option string with --image-opts).
#include "block/BlockDriver.h"
#include "block/ImageOptions.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace e2kvm::io {

// A cache mode's effect on requests, as QEMU's cache modes name it.
struct CacheMode {
    bool writethrough = true; // every write is flushed before it completes
    bool ignoreFlush = false; // flush requests do nothing ("unsafe")
};

// Parses a cache mode name (writethrough, directsync, writeback, none, unsafe); false if it is
// not one.
bool parseCacheMode(const std::string& name, CacheMode& mode);
// Parses a discard mode ("unmap"/"on": discards deallocate, "ignore"/"off": they are ignored);
// false if it is not one.
bool parseDiscardMode(const std::string& name, bool& unmap);

struct IoOpenRequest {
    std::optional<std::string> filename; // none with --image-opts (the options say it all)
    block::DriverOptions options;        // -o / --image-opts option string; may be empty
    std::string format;                  // -f (e2kvm-io's command line only)
    bool readOnly = false;
    bool snapshot = false;
    bool forceShare = false;
};

struct IoOpenedImage {
    std::shared_ptr<block::BlockDriver> image;
    // qemu-io's warning about a probed raw image opened writable ("" if none), with newlines.
    std::string warning;
};

// Thrown when a request contradicts itself (-U with force-share=off); qemu-io reports it as it
// is, without "can't open".
class IoOpenConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Opens the image the request describes. Throws BlockError (or std::exception) with the reason.
IoOpenedImage openIoImage(const IoOpenRequest& request);

} // namespace e2kvm::io

#pragma once
// Opening and creating images by format name, with format probing and backing-chain loop
// detection. This is the only place that knows which formats exist.
#include "BlockDriver.h"
#include "ImageLock.h"
#include "blkdebug/Blkdebug.h"

#include <memory>
#include <optional>
#include <set>
#include <string>

namespace e2kvm::block {

struct OpenOptions {
    std::string format; // "" = probe
    // The caller probed `format` itself (probeFormat()) rather than being given it: the image
    // is then treated as probed, as with an empty format (a probed raw image keeps its first
    // sector from turning into another format's header; see RawImage).
    bool formatProbed = false;
    bool readOnly = true;
    bool openBacking = true; // false: do not open the backing file (rebase -u, info of one layer)
    // The backing file's format as the user gives it (QEMU's backing.driver), instead of the
    // one the image names; "" = the image's. Not handed on further down.
    std::string backingFormat;
    // false: do not open a qcow2 external data file (info needs the metadata only); reads and
    // writes of guest data then fail.
    bool openDataFile = true;
    // QEMU's data-file option (data-file.filename=NAME): the external data file to use
    // instead of the one the image names; only for an image that has one.
    std::optional<std::string> dataFileName;
    // QEMU's data-file given as a node of its own (data-file.driver=null-co, raw over
    // blkdebug...): the external data file reads and writes through that open image instead.
    // Only for an image that has one; not handed on.
    std::shared_ptr<BlockDriver> dataFileNode;
    // An image that is already open to use as the backing file instead of the one the image
    // names (qcow2 only): a fleecing overlay over a running disk.
    std::shared_ptr<BlockDriver> backingNode;
    // QEMU's image locks (see ImageLock): false as file.locking=off; forceShare (-U) only reads
    // and lets others write, as QEMU's force-share (read-only images only).
    bool locking = true;
    bool forceShare = false;
    // Permissions (ImagePermission bits) the user of the image does not let others hold, as
    // QEMU's users do: a guest disk does not share write (share-rw=off), qemu-img convert's
    // source neither write nor resize. A qcow2 image never shares them anyway (its metadata).
    unsigned unshare = 0;
    // Only the metadata is looked at (qemu-img info): no consistent-read permission is held,
    // so nothing that writes the image is refused by it unless the format needs that.
    bool metadataOnly = false;
    // An error injector (blkdebug) between the format and its file, as "blkdebug:CONF:IMAGE"
    // or file.driver=blkdebug give; not handed on to backing or data files.
    std::shared_ptr<Blkdebug> blkdebug;
    // An image that is already open to use as the format's file instead of the host file the
    // name gives (QEMU's file child of any driver: qcow2 over qcow2). Not handed on.
    std::shared_ptr<BlockDriver> fileNode;
    // QEMU's cache.direct=on (-t none, -n): the host file is read as under O_DIRECT, in whole
    // 512-byte sectors, so a raw file's block status covers its last partial sector whole.
    bool directIo = false;
    // Real paths of images already open further up the chain (loop detection).
    std::set<std::string> chain;
};

struct CreateOptions {
    std::string format = "raw";
    uint64_t size = 0; // 0 with a backing file: take the backing file's size
    bool sizeGiven = false;
    uint32_t clusterSize = 65536; // qcow2
    std::string backingFile;      // qcow2
    std::string backingFormat;    // qcow2
    Preallocation preallocation = Preallocation::Off;
    uint32_t refcountBits = 16; // qcow2
    bool lazyRefcounts = false; // qcow2
    std::string compat = "1.1"; // qcow2: "1.1" (v3) or "0.10" (v2)
    std::string dataFile;       // qcow2 external data file
    bool dataFileRaw = false;
    // The data file exists already and is used as it is, neither created nor sized (QMP
    // blockdev-create's data-file node: only the qcow2 file is formatted).
    bool dataFileExists = false;
    std::string compressionType = "zlib";
    bool extendedL2 = false;
};

// A name with QEMU's file protocol prefix ("file:a:b.qcow2") as the host file it names: the
// prefix dropped, and "./" put in front when the rest would read as another protocol's prefix
// ("./a:b.qcow2", as QEMU names such an image). Other names are returned as they are.
std::string hostFileName(const std::string& name);

// Returns "qcow2" or "raw" for a local file from its first bytes (see HeaderProbe.h).
std::string probeFormat(const std::string& path);

// QEMU's warning for an image opened writable whose format was probed as raw (three lines, each
// ending in a newline): writes to its first sector are restricted.
std::string probedRawWarning(const std::string& filename);

// The locks an open with `options` takes on its file, as QEMU's for the format: a qcow2 file
// (`formatFile`, with metadata) is also held for resize when writable and never shares write or
// resize; a raw file or a data file carries only what its user holds and does not share.
ImageLocks imageLocks(const OpenOptions& options, bool formatFile);

std::unique_ptr<BlockDriver> openImage(const std::string& filename, OpenOptions options);
// `format` ("raw", "qcow2") with `node` as its file; the image is named as the node. Raw
// passes requests through unchanged, so it is the node itself.
std::unique_ptr<BlockDriver> openFormatOverNode(const std::string& format,
                                                std::shared_ptr<BlockDriver> node,
                                                OpenOptions options);
void createImage(const std::string& filename, const CreateOptions& options);

// Resolves a backing file name stored in `imagePath` the way QEMU does: absolute names as
// they are, relative names relative to the directory of the image that names them. For an
// image named json:{...} that directory is the one of the file its options lead to; below a
// quorum there is none, and a relative name resolves to "" (QEMU's "cannot determine").
std::string resolveBackingPath(const std::string& imagePath, const std::string& backingName);

// Parses "1G", "512k", "1.5M", "4096" (bytes; k/M/G/T/P/E are binary). Throws on garbage.
uint64_t parseSize(const std::string& text);

} // namespace e2kvm::block

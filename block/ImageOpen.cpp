#include "ImageOpen.h"

#include "HeaderProbe.h"
#include "HostFile.h"
#include "ImageLock.h"
#include "ImageOptions.h"
#include "JsonFilename.h"
#include "NullImage.h"
#include "ProtocolRegistry.h"
#include "RawImage.h"
#include "blkdebug/BlkdebugConfig.h"
#include "blkdebug/BlkdebugImage.h"
#include "qcow2/Qcow2Image.h"
#include "ssh/SshImage.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <unistd.h>

namespace e2kvm::block {

std::string hostFileName(const std::string& name) {
    if (name.rfind("file:", 0) != 0)
        return name;
    std::string path = name.substr(5);
    const auto colon = path.find(':');
    if (colon != std::string::npos && path.find('/') > colon)
        path.insert(0, "./");
    return path;
}

std::string probeFormat(const std::string& path) {
    if (auto name = parseBlkdebugName(path))
        return probeFormat(name->image);
    if (path.rfind("blkverify:", 0) == 0) { // the first bytes read through the check
        OpenOptions node;
        std::unique_ptr<BlockDriver> image = openImage(path, node);
        std::array<uint8_t, kProbeBytes> head{};
        image->read(
            0, std::span<uint8_t>(head.data(), std::min<uint64_t>(head.size(), image->size())));
        return openProbe(head);
    }
    if (path.rfind("null-co:", 0) == 0) // a protocol with nothing to probe: raw
        return "raw";
    if (ssh::isSshUrl(path) || isRegisteredProtocol(path)) { // the remote file's first bytes
        OpenOptions node;
        node.format = "raw";
        std::unique_ptr<BlockDriver> image =
            ssh::isSshUrl(path) ? ssh::openSshUrl(path, node) : openRegisteredProtocol(path, node);
        std::array<uint8_t, kProbeBytes> head{};
        image->read(
            0, std::span<uint8_t>(head.data(), std::min<uint64_t>(head.size(), image->size())));
        return openProbe(head);
    }
    HostFile f(hostFileName(path), HostFile::Mode::ReadOnly);
    std::array<uint8_t, kProbeBytes> head{};
    f.read(0, head);
    return openProbe(head);
}

std::string probedRawWarning(const std::string& filename) {
    return "WARNING: Image format was not specified for '" + filename +
           "' and probing guessed raw.\n"
           "         Automatically detecting the format is dangerous for raw images, write "
           "operations on block 0 will be restricted.\n"
           "         Specify the 'raw' format explicitly to remove the restrictions.\n";
}

ImageLocks imageLocks(const OpenOptions& options, bool formatFile) {
    ImageLocks locks;
    if (!options.locking)
        return locks;
    if (!options.metadataOnly)
        locks.held |= kPermConsistentRead;
    if (!options.readOnly)
        locks.held |= kPermWrite | (formatFile ? kPermResize : 0u);
    locks.unshared = options.unshare;
    if (formatFile)
        locks.unshared |= kPermWrite | kPermResize;
    if (options.forceShare)
        locks.unshared = 0;
    return locks;
}

namespace {

// A protocol's disk (nbd+unix://...) under the format asked for, or probed from its first
// bytes as QEMU probes it; nullptr if no registered protocol names `filename`.
std::unique_ptr<BlockDriver> openOverProtocol(const std::string& filename,
                                              const OpenOptions& options) {
    const bool rawAsked = options.format.empty() || options.format == "raw";
    OpenOptions disk = options;
    if (!rawAsked)
        disk.format = "raw"; // the protocol's own node; the format goes over it
    std::unique_ptr<BlockDriver> driver = openRegisteredProtocol(filename, disk);
    if (!driver)
        return nullptr;
    std::string format = options.format;
    if (format.empty() && driver->formatName() == "raw" && driver->size() >= kProbeBytes) {
        std::array<uint8_t, kProbeBytes> head{};
        driver->read(0, head);
        if (openProbe(head) == "qcow2")
            format = "qcow2";
    }
    // The format reads and writes through the disk as its file (an injector, if any, is
    // between them as over a host file).
    if (!format.empty() && format != "raw")
        return openFormatOverNode(format, std::move(driver), options);
    // A blkdebug injector over a protocol's disk (blkdebug::nbd+unix://...) is a node of
    // its own between the raw format and the disk.
    if (options.blkdebug && driver->formatName() == "raw")
        return std::make_unique<BlkdebugImage>(options.blkdebug, std::move(driver));
    return driver;
}

} // namespace

std::unique_ptr<BlockDriver> openImage(const std::string& filename, OpenOptions options) {
    if (options.forceShare && !options.readOnly)
        throw BlockError(EINVAL, "force-share=on can only be used with read-only images");
    if (auto image = openOverProtocol(filename, options))
        return image;
    // "json:{...}": the options themselves; a format given beside them names the driver if
    // they do not, else the format is probed from the file they name.
    if (isJsonFilename(filename)) {
        DriverOptions json = parseJsonFilename(filename);
        if (!json.count("driver")) {
            if (!options.format.empty()) {
                json["driver"] = options.format;
            } else if (json.count("file.filename") && !json.count("file.driver")) {
                json["driver"] = probeFormat(json["file.filename"]);
                options.formatProbed = true;
            }
        }
        return openImageFromOptions(json, std::move(options));
    }
    // "blkdebug:CONFIG:IMAGE": the image with an error injector under its format.
    if (auto name = parseBlkdebugName(filename)) {
        options.blkdebug = makeBlkdebug(name->configFile, {});
        options.blkdebug->event(BlkdebugEvent::None);
        auto image = openImage(name->image, std::move(options));
        image->setFilename(filename);
        return image;
    }
    // "blkverify:RAW:TEST": the image TEST checked against the raw file RAW (the first colon
    // after the prefix ends RAW), with a format (raw unless given) over the check.
    if (filename.rfind("blkverify:", 0) == 0) {
        const std::string rest = filename.substr(std::strlen("blkverify:"));
        const size_t colon = rest.find(':');
        if (colon == std::string::npos)
            throw BlockError(EINVAL, "blkverify requires raw copy and original image path");
        DriverOptions node{{"driver", "blkverify"},
                           {"x-raw", rest.substr(0, colon)},
                           {"x-image", rest.substr(colon + 1)}};
        const std::string format = options.format;
        if (format.empty() || format == "raw") { // the probe over blkverify finds raw
            options.format = "raw";
            return openImageFromOptions(node, std::move(options));
        }
        OpenOptions below = options;
        below.format.clear();
        return openFormatOverNode(format, openImageFromOptions(node, std::move(below)), options);
    }
    // QEMU's null-co protocol name: a 1 GiB disk that stores nothing (see NullImage).
    if (filename.rfind("null-co:", 0) == 0) {
        if (filename != "null-co://")
            throwError(EINVAL, filename,
                       "The only allowed filename for this driver is 'null-co://'");
        NullOptions null;
        null.readOnly = options.readOnly;
        // QEMU puts a raw node over it unless the format is null-co itself.
        null.underRaw = options.format != "null-co";
        return std::make_unique<NullImage>(filename, null);
    }
    if (ssh::isSshUrl(filename))
        return ssh::openSshUrl(filename, options);
    if (filename.rfind("file:", 0) == 0)
        return openImage(hostFileName(filename), std::move(options));
    const bool probed = options.format.empty() || options.formatProbed;
    std::string format = options.format.empty() ? probeFormat(filename) : options.format;
    if (format == "raw")
        return std::make_unique<RawImage>(filename, options.readOnly, probed,
                                          imageLocks(options, false), options.blkdebug,
                                          options.directIo);
    if (format == "qcow2") {
        if (!options.format.empty() && probeFormat(filename) != "qcow2")
            throwError(EINVAL, filename, "Image is not in qcow2 format");
        return Qcow2Image::open(filename, std::move(options));
    }
    throw BlockError(EINVAL, "Unknown driver '" + format + "'");
}

std::unique_ptr<BlockDriver> openFormatOverNode(const std::string& format,
                                                std::shared_ptr<BlockDriver> node,
                                                OpenOptions options) {
    if (format == "qcow2") {
        const std::string name = node->filename();
        options.format = format;
        options.fileNode = std::move(node);
        return Qcow2Image::open(name, std::move(options));
    }
    throwError(EINVAL, node->filename(), "Unknown driver '" + format + "'");
}

namespace {

// As QEMU's file creation: an existing file is overwritten only when no other open of it keeps
// others from writing it or resizing it (QEMU's image locks); the error names the file.
void checkCreateLocks(const std::string& name, const std::string& filename) {
    const int fd = ::open(filename.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return; // a new file (or one we cannot open: creating it reports why)
    try {
        lockImageFile(fd, filename, ImageLocks{kPermWrite | kPermResize, 0});
    } catch (const BlockError& e) {
        ::close(fd);
        if (isImageLockConflict(e))
            throw BlockError(e.errnoValue(), name + ": " + e.what());
        throw;
    }
    ::close(fd);
}

// Creation on a protocol's disk (nbd+unix://...), which cannot be created, as QEMU creates
// there: the disk is opened, must be large enough for a raw image (it is not grown), and its
// first sector is zeroed so that no old header remains; a qcow2 image is then written into it.
// False if no registered protocol names `name`.
bool createOverProtocol(const std::string& name, const CreateOptions& options) {
    if (!isRegisteredProtocol(name))
        return false;
    const bool raw = options.format == "raw";
    if (raw && options.preallocation != Preallocation::Off)
        throwError(ENOTSUP, name,
                   std::string("Unsupported preallocation mode '") +
                       preallocationName(options.preallocation) + "'");
    if (!raw && options.format != "qcow2")
        throwError(EINVAL, name, "Unknown file format '" + options.format + "'");
    OpenOptions open;
    open.format = "raw";
    open.readOnly = false;
    std::shared_ptr<BlockDriver> disk;
    try {
        disk = openRegisteredProtocol(name, open);
    } catch (const BlockError& e) {
        throwError(
            EINVAL, name,
            "Protocol driver '" + name.substr(0, name.find_first_of(":+")) +
                "' does not support image creation, and opening the image failed: " + e.what());
    }
    // The format takes the size for itself: the disk only has to hold a raw image.
    const uint64_t minimum = raw ? options.size : 0;
    try {
        if (disk->size() < minimum)
            disk->truncate(minimum);
    } catch (const BlockError& e) {
        throwError(e.errnoValue(), name, e.what());
    }
    if (const uint64_t head = std::min<uint64_t>(disk->size(), 512)) {
        try {
            disk->writeZeroes(0, head, ZeroMayUnmap);
        } catch (const BlockError& e) {
            throwError(e.errnoValue(), name,
                       std::string("Failed to clear the new image's first sector: ") +
                           std::strerror(e.errnoValue()));
        }
    }
    if (!raw)
        Qcow2Image::create(name, options, std::move(disk));
    return true;
}

} // namespace

void createImage(const std::string& name, const CreateOptions& options) {
    if (ssh::isSshUrl(name)) { // a remote raw file; formats over it are not made here
        if (options.format != "raw" || !options.backingFile.empty())
            throwError(ENOTSUP, name, "only raw images can be created over ssh");
        ssh::createSshFile(name, options.size);
        return;
    }
    if (createOverProtocol(name, options))
        return;
    const std::string filename = hostFileName(name);
    checkCreateLocks(name, filename);
    if (options.format == "raw") {
        if (!options.backingFile.empty())
            throwError(EINVAL, filename, "Format 'raw' does not support backing files");
        RawImage::create(filename, options);
        return;
    }
    if (options.format == "qcow2") {
        Qcow2Image::create(filename, options);
        return;
    }
    throwError(EINVAL, filename, "Unknown file format '" + options.format + "'");
}

namespace {

// The directory a json: image name's relative backing names are taken from, as QEMU's: that of
// the file the node's primary child (file, image) reads in the end; none below a node with
// several children of equal rank (quorum).
std::optional<std::string> jsonNameDirectory(const DriverOptions& node) {
    auto driver = node.find("driver");
    if (driver != node.end() && driver->second == "quorum")
        return std::nullopt;
    if (driver != node.end() && driver->second == "ssh") { // beside the file on the server
        try {
            const std::string name = ssh::sshNodeName(node);
            if (name.find('?') == std::string::npos)
                return name.substr(0, name.rfind('/') + 1);
        } catch (const BlockError&) {
        }
        return std::nullopt;
    }
    for (const std::string child : {"file", "image"}) {
        DriverOptions sub = subOptions(node, child + ".");
        if (auto named = node.find(child); named != node.end() && !named->second.empty())
            sub["filename"] = named->second; // the child given by its file name
        if (!sub.empty())
            return jsonNameDirectory(sub);
    }
    auto filename = node.find("filename");
    if (filename == node.end() || filename->second.empty())
        return std::nullopt;
    if (isJsonFilename(filename->second))
        return jsonNameDirectory(parseJsonFilename(filename->second));
    const auto slash = filename->second.rfind('/');
    return slash == std::string::npos ? std::string() : filename->second.substr(0, slash + 1);
}

} // namespace

std::string resolveBackingPath(const std::string& imagePath, const std::string& backingName) {
    if (backingName.empty() || backingName[0] == '/')
        return backingName;
    // Protocol names (nbd://..., json:{...}) are used as they are.
    auto colon = backingName.find(':');
    if (colon != std::string::npos && backingName.find('/') > colon)
        return backingName;
    // A remote image whose name carries a host key check has no directory to prefix (QEMU
    // would have to append the query string).
    if (ssh::isSshUrl(imagePath) && imagePath.find('?') != std::string::npos)
        return std::string();
    // An image named by its options: relative to the directory its options lead to, or
    // unresolvable (empty) when they lead to none.
    if (isJsonFilename(imagePath)) {
        std::optional<std::string> directory;
        try {
            directory = jsonNameDirectory(parseJsonFilename(imagePath));
        } catch (const BlockError&) {
        }
        return directory ? *directory + backingName : std::string();
    }
    auto slash = imagePath.rfind('/');
    if (slash == std::string::npos)
        return backingName;
    return imagePath.substr(0, slash + 1) + backingName;
}

uint64_t parseSize(const std::string& text) {
    const char* s = text.c_str();
    while (std::isspace((unsigned char)*s))
        ++s;
    if (*s == '-' || *s == '\0')
        throw BlockError(EINVAL, "Invalid size '" + text + "'");
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(s, &end);
    if (end == s || errno == ERANGE || !std::isfinite(value))
        throw BlockError(EINVAL, "Invalid size '" + text + "'");
    // QEMU's sizes are decimal numbers with an optional fraction ("1.5k", "1024.0"), never
    // with an exponent.
    const std::string number(s, size_t(end - s));
    const bool hex =
        number.size() > 1 && number[0] == '0' && (number[1] == 'x' || number[1] == 'X');
    if (number.find_first_of(hex ? ".pP" : "eEpP") != std::string::npos)
        throw BlockError(EINVAL, "Invalid size '" + text + "'");
    const bool fractional = value != std::floor(value);
    uint64_t mult = 1;
    switch (*end) {
    case '\0':
        break;
    case 'b':
    case 'B':
        mult = 1;
        ++end;
        break;
    case 'k':
    case 'K':
        mult = 1ULL << 10;
        ++end;
        break;
    case 'm':
    case 'M':
        mult = 1ULL << 20;
        ++end;
        break;
    case 'g':
    case 'G':
        mult = 1ULL << 30;
        ++end;
        break;
    case 't':
    case 'T':
        mult = 1ULL << 40;
        ++end;
        break;
    case 'p':
    case 'P':
        mult = 1ULL << 50;
        ++end;
        break;
    case 'e':
    case 'E':
        mult = 1ULL << 60;
        ++end;
        break;
    default:
        throw BlockError(EINVAL, "Invalid size '" + text + "': unknown suffix");
    }
    if (*end != '\0')
        throw BlockError(EINVAL, "Invalid size '" + text + "'");
    if (fractional && mult == 1)
        throw BlockError(EINVAL, "Invalid size '" + text + "': fractional byte count");
    long double bytes = (long double)value * (long double)mult;
    if (bytes >= 9223372036854775808.0L) // 2^63: QEMU's limit for image sizes
        throw BlockError(ERANGE, "Invalid size '" + text + "': value too large");
    return uint64_t(bytes);
}

} // namespace e2kvm::block

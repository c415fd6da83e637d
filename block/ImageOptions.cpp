#include "ImageOptions.h"
#include "block/OnOffValue.h"

#include "JsonFilename.h"
#include "NullImage.h"
#include "ProtocolRegistry.h"
#include "app/json/Json.h"
#include "app/json/QdictOrder.h"
#include "blkdebug/BlkdebugOpen.h"
#include "filter/BlkverifyFilter.h"
#include "filter/CompressFilter.h"
#include "filter/RawWindow.h"
#include "qcow2/Qcow2Driver.h"
#include "quorum/QuorumOpen.h"
#include "ssh/SshImage.h"

#include <cstring>
#include <fcntl.h>
#include <optional>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace e2kvm::block {

DriverOptions parseImageOptions(const std::string& text) {
    DriverOptions out;
    std::string element;
    auto finish = [&] {
        auto eq = element.find('=');
        if (eq == std::string::npos || eq == 0)
            throw BlockError(EINVAL, "Invalid parameter '" + element + "'");
        out[element.substr(0, eq)] = element.substr(eq + 1);
        element.clear();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != ',') {
            element += text[i];
        } else if (i + 1 < text.size() && text[i + 1] == ',') {
            element += ',';
            ++i;
        } else {
            finish();
        }
    }
    if (!element.empty())
        finish();
    return out;
}

DriverOptions subOptions(const DriverOptions& options, const std::string& prefix) {
    DriverOptions out;
    for (const auto& [key, value] : options)
        if (key.compare(0, prefix.size(), prefix) == 0 && key.size() > prefix.size())
            out[key.substr(prefix.size())] = value;
    return out;
}

namespace {

std::string valueOr(const DriverOptions& options, const std::string& key,
                    const std::string& fallback = "") {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
}

// driver=null-co: size, read-zeroes and latency-ns as QEMU's null-co (see NullImage).
std::unique_ptr<BlockDriver> openNullNode(const DriverOptions& options, const OpenOptions& open) {
    NullOptions null;
    null.readOnly = open.readOnly;
    const bool sizeGiven = options.count("size") != 0;
    if (sizeGiven)
        null.size = numberOption(options, "size");
    const bool readZeroesGiven = options.count("read-zeroes") != 0;
    null.readZeroes = booleanOption(options, "read-zeroes", false);
    if (options.count("latency-ns"))
        null.latencyNs = numberOption(options, "latency-ns");
    return std::make_unique<NullImage>(NullImage::describeOptions(null, sizeGiven, readZeroesGiven),
                                       null);
}

// A qcow2 image opened with QEMU's runtime options for it (overlap checks, cache sizes...):
// they are checked, and applied before the first request.
std::unique_ptr<BlockDriver> withRuntimeOptions(std::unique_ptr<BlockDriver> image,
                                                const DriverOptions& options) {
    if (auto* q = dynamic_cast<qcow2::Qcow2Driver*>(image.get()))
        q->applyRuntimeOptions(options);
    return image;
}

// QEMU's json: name of format `driver` over a node named json:{NODE}.
std::string formatOverJsonName(const std::string& driver, const std::string& nodeName) {
    json::Json format = json::Json::object();
    format.set("driver", driver);
    format.set("file", json::parseJson(std::string_view(nodeName).substr(5)));
    return "json:" + json::inQdictOrder(format).serialize();
}

// A node's options as QEMU's json: names spell them: those of a json: name, else a protocol
// node's {driver: file, filename} or a format's over such a file.
json::Json fullOptionsOf(const BlockDriver& image, bool protocol) {
    if (isJsonFilename(image.filename()))
        return json::parseJson(std::string_view(image.filename()).substr(5));
    json::Json file = json::Json::object({{"driver", "file"}, {"filename", image.filename()}});
    if (protocol)
        return file;
    return json::Json::object({{"driver", image.formatName()}, {"file", std::move(file)}});
}

// driver=blkverify: the reference (raw.* options or x-raw: a file, read as it is, QEMU's
// protocol child) and the image under test (test.* options or x-image: its format probed).
// Named "blkverify:RAW:TEST" when both children have plain names, else by its options.
std::unique_ptr<BlockDriver> openBlkverifyNode(const DriverOptions& options,
                                               const OpenOptions& open) {
    auto child = [&](const std::string& name, const std::string& fallbackKey, bool protocol) {
        DriverOptions sub = subOptions(options, name + ".");
        OpenOptions childOpen = open;
        childOpen.format.clear();
        if (!sub.count("driver") && !sub.count("filename") &&
            valueOr(sub, "file.driver") == "blkdebug") {
            // A format over an error injector: probed from the file under the injector.
            const std::string image =
                valueOr(sub, "file.image.filename", valueOr(sub, "file.x-image"));
            if (!image.empty())
                sub["driver"] = probeFormat(image);
        }
        if (sub.count("driver") || sub.count("file.filename"))
            return std::shared_ptr<BlockDriver>(openImageFromOptions(sub, std::move(childOpen)));
        const std::string filename = valueOr(sub, "filename", valueOr(options, fallbackKey));
        if (filename.empty())
            throw BlockError(EINVAL, "A block device must be specified for \"" + name + "\"");
        if (protocol) {
            childOpen.format = "raw";
            childOpen.formatProbed = false;
        }
        return std::shared_ptr<BlockDriver>(openImage(filename, std::move(childOpen)));
    };
    std::shared_ptr<BlockDriver> raw = child("raw", "x-raw", true);
    std::shared_ptr<BlockDriver> test =
        child("test", options.count("x-image") ? "x-image" : "filename", false);
    std::string name;
    if (!isJsonFilename(raw->filename()) && !isJsonFilename(test->filename()))
        name = "blkverify:" + raw->filename() + ":" + test->filename();
    else
        name = "json:" +
               json::inQdictOrder(json::Json::object({{"driver", "blkverify"},
                                                      {"raw", fullOptionsOf(*raw, true)},
                                                      {"test", fullOptionsOf(*test, false)}}))
                   .serialize();
    auto node = std::make_unique<BlkverifyFilter>(std::move(test), std::move(raw),
                                                  open.format == "raw" ? "raw" : "blkverify");
    node->setFilename(name);
    return node;
}

// driver=raw|qcow2 over the file the options name (or any node as file.driver says).
// `probed`: the driver was probed from the file rather than given (see openImageFromOptions).
std::unique_ptr<BlockDriver> openFormatNode(const std::string& driver, const DriverOptions& options,
                                            OpenOptions open, bool probed = false) {
    open.format = driver;
    open.formatProbed = probed;
    // data-file.filename=NAME (a file node): the external data file by name. Any other node
    // (data-file.driver=null-co, raw over blkdebug...) is opened here and the image reads and
    // writes its data through it.
    if (auto node = options.find("data-file.driver");
        node != options.end() && node->second != "file") {
        OpenOptions child;
        child.readOnly = open.readOnly;
        child.locking = open.locking;
        child.forceShare = open.forceShare;
        child.chain = open.chain;
        open.dataFileNode = openImageFromOptions(subOptions(options, "data-file."), child);
    } else if (auto name = options.find("data-file.filename"); name != options.end()) {
        open.dataFileName = name->second;
    }
    // backing= (null in JSON): the image is opened without its backing file.
    if (auto backing = options.find("backing"); backing != options.end()) {
        if (!backing->second.empty())
            throw BlockError(ENOTSUP, "A backing node given by reference ('" + backing->second +
                                          "') is not supported");
        open.openBacking = false;
    }
    if (auto backingDriver = options.find("backing.driver"); backingDriver != options.end())
        open.backingFormat = backingDriver->second;
    // backing.file.*: the backing file the options name instead of the one the header records
    // (which stays as it is), read-only, its format backing.driver or probed.
    DriverOptions backing = subOptions(options, "backing.");
    if (backing.count("file.filename") || backing.count("file.driver")) {
        if (!backing.count("driver"))
            backing["driver"] = probeFormat(valueOr(backing, "file.filename"));
        OpenOptions below;
        below.readOnly = true;
        below.locking = open.locking;
        below.forceShare = open.forceShare;
        open.backingNode = std::shared_ptr<BlockDriver>(openImageFromOptions(backing, below));
    }
    DriverOptions file = subOptions(options, "file.");
    // A blkdebug: name as the file is a blkdebug node (with the file's other options).
    const bool blkdebugName =
        !file.count("driver") && valueOr(file, "filename").rfind("blkdebug:", 0) == 0;
    const std::string fileDriver = blkdebugName ? "blkdebug" : valueOr(file, "driver", "file");
    if (fileDriver == "blkdebug")
        return withRuntimeOptions(openFormatOverBlkdebug(driver, file, std::move(open)), options);
    if (fileDriver != "file" && fileDriver != "host_device") {
        // Any node may be the file (QEMU's file child): it is opened as an image of its
        // own, with its own backing file, and the format reads and writes through it.
        OpenOptions child;
        child.readOnly = open.readOnly;
        child.locking = open.locking;
        child.forceShare = open.forceShare;
        child.unshare = open.unshare;
        child.metadataOnly = open.metadataOnly;
        child.chain = open.chain;
        // A protocol node that is the raw format's file is what `info` shows as raw.
        if (driver == "raw" && (fileDriver == "ssh" || fileDriver == "nbd" ||
                                fileDriver == "quorum" || fileDriver == "blkverify"))
            child.format = "raw";
        std::unique_ptr<BlockDriver> node = openImageFromOptions(file, std::move(child));
        if (driver == "raw") { // passes every request through: the node itself
            // named as QEMU names a raw format over a node: by the node's name, or when that
            // is a json: name, by the options of both.
            if (isJsonFilename(node->filename()))
                node->setFilename(formatOverJsonName("raw", node->filename()));
            return node;
        }
        const std::string nodeName = node->filename();
        auto image = openFormatOverNode(driver, std::move(node), std::move(open));
        // A node named by its options (quorum) names the format over it the same way.
        if (isJsonFilename(nodeName))
            image->setFilename(formatOverJsonName(driver, nodeName));
        return withRuntimeOptions(std::move(image), options);
    }
    std::string filename = valueOr(file, "filename", valueOr(options, "file"));
    if (valueOr(file, "locking") == "off") // QEMU's file.locking=off: no image locks
        open.locking = false;
    if (filename.empty())
        throw BlockError(EINVAL, "A block device must be specified for \"file\"");
    return withRuntimeOptions(openImage(filename, std::move(open)), options);
}

// A file protocol node's file as QEMU checks it on open: it must open (read-write unless
// read-only), and be a regular file (driver=file) or a character or block device (host_device,
// host_cdrom). Throws BlockError with QEMU's words.
void checkHostNode(const std::string& driver, const std::string& filename, bool readOnly) {
    if (filename.empty())
        throw BlockError(EINVAL, "Parameter 'filename' is required");
    const int fd = ::open(filename.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        throw BlockError(e, "Could not open '" + filename + "': " + std::strerror(e));
    }
    struct stat st {};
    const bool statted = ::fstat(fd, &st) == 0;
    ::close(fd);
    if (!statted)
        return;
    if (driver == "file" && !S_ISREG(st.st_mode))
        throw BlockError(EINVAL, "'file' driver requires '" + filename + "' to be a regular file");
    if (driver != "file" && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        throw BlockError(EINVAL, "'" + driver + "' driver requires '" + filename +
                                     "' to be either a character or block device");
}

} // namespace

bool booleanOption(const DriverOptions& options, const std::string& key, bool fallback) {
    auto it = options.find(key);
    if (it == options.end())
        return fallback;
    if (auto on = onOffValue(it->second))
        return *on;
    throw BlockError(EINVAL, "Parameter '" + key + "' expects 'on' or 'off'");
}

uint64_t numberOption(const DriverOptions& options, const std::string& key) {
    const std::string& text = options.at(key);
    try {
        size_t used = 0;
        uint64_t value = std::stoull(text, &used, 0);
        if (used == text.size() && text[0] != '-')
            return value;
    } catch (const std::logic_error&) {
    }
    throw BlockError(EINVAL, "Parameter '" + key + "' expects a number");
}

std::unique_ptr<BlockDriver> openImageFromOptions(const DriverOptions& options, OpenOptions open) {
    const std::string driver = valueOr(options, "driver");
    if (driver.empty()) {
        // No driver: as QEMU, the format is probed from the host file the options name
        // (file.filename, or filename).
        const std::string name = valueOr(options, "file.filename", valueOr(options, "filename"));
        if (name.empty() || valueOr(options, "file.driver", "file") != "file")
            throw BlockError(EINVAL, "Parameter 'driver' is required");
        DriverOptions probed = options;
        probed.erase("filename");
        probed["file.filename"] = name;
        const std::string format = probeFormat(name);
        probed["driver"] = format;
        if (format == "raw" || format == "qcow2")
            return openFormatNode(format, probed, std::move(open), true);
        return openImageFromOptions(probed, std::move(open));
    }
    // cache.direct is inherited by the children (the file), as in QEMU.
    if (booleanOption(options, "cache.direct", false) ||
        booleanOption(subOptions(options, "file."), "cache.direct", false))
        open.directIo = true;
    if (driver == "file" || driver == "host_device" || driver == "host_cdrom") {
        const std::string filename = valueOr(options, "filename");
        if (options.count("locking"))
            open.locking =
                valueOr(options, "locking") == "auto" || booleanOption(options, "locking", true);
        checkHostNode(driver, filename, open.readOnly);
        open.format = "raw";
        open.formatProbed = false;
        return openImage(filename, std::move(open));
    }
    if (driver == "raw" || driver == "qcow2") {
        auto image = openFormatNode(driver, options, std::move(open));
        // raw with offset/size: a window onto its file.
        if (driver == "raw" && (options.count("offset") || options.count("size"))) {
            const uint64_t offset =
                options.count("offset") ? RawWindow::byteSize("offset", options.at("offset")) : 0;
            std::optional<uint64_t> size;
            if (options.count("size"))
                size = RawWindow::byteSize("size", options.at("size"));
            return std::make_unique<RawWindow>(std::move(image), offset, size);
        }
        return image;
    }
    if (driver == "blkdebug")
        return openBlkdebugNode(options, std::move(open));
    if (driver == "blkverify")
        return openBlkverifyNode(options, std::move(open));
    if (driver == "compress") {
        DriverOptions file = subOptions(options, "file.");
        std::unique_ptr<BlockDriver> below;
        if (file.count("driver")) {
            below = openImageFromOptions(file, std::move(open));
        } else {
            const std::string filename = valueOr(file, "filename", valueOr(options, "file"));
            if (filename.empty())
                throw BlockError(EINVAL, "A block device must be specified for \"file\"");
            below = openImage(filename, std::move(open));
        }
        return std::make_unique<CompressFilter>(std::move(below));
    }
    if (driver == "null-co")
        return openNullNode(options, open);
    if (driver == "ssh")
        return ssh::openSshNode(options, open);
    if (driver == "quorum")
        return quorum::openQuorumNode(options, open);
    open.format.clear();
    if (auto image = openRegisteredDriver(driver, options, open))
        return image;
    throw BlockError(EINVAL, "Unknown driver '" + driver + "'");
}

} // namespace e2kvm::block

#include "app/ioshell/IoOpen.h"
#include "block/OnOffValue.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/JsonFilename.h"
#include "block/RawImage.h"

#include <cerrno>
#include <cstdlib>
#include <unistd.h>

namespace e2kvm::io {

using block::BlockDriver;
using block::BlockError;

bool parseCacheMode(const std::string& name, CacheMode& mode) {
    if (name == "writethrough" || name == "directsync")
        mode = {true, false};
    else if (name == "writeback" || name == "none")
        mode = {false, false};
    else if (name == "unsafe")
        mode = {false, true};
    else
        return false;
    return true;
}

bool parseDiscardMode(const std::string& name, bool& unmap) {
    if (name == "unmap" || name == "on")
        unmap = true;
    else if (name == "ignore" || name == "off")
        unmap = false;
    else
        return false;
    return true;
}

namespace {

// QEMU's boolean option values.
bool optionOn(const std::string& key, const std::string& value) {
    if (auto on = block::onOffValue(value))
        return *on;
    throw BlockError(EINVAL, "Parameter '" + key + "' expects 'on' or 'off'");
}

// -s: the image opened read-only below a temporary qcow2 overlay (deleted at once, so nothing
// is left behind) that takes the writes, as qemu-io's snapshot mode does.
std::unique_ptr<BlockDriver> openSnapshotOverlay(std::unique_ptr<BlockDriver> base) {
    const char* dir = std::getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/var/tmp") + "/e2kvm-io-snapshot.XXXXXX";
    int fd = ::mkstemp(path.data());
    if (fd < 0)
        block::throwError(errno, path, "Could not create the temporary overlay");
    ::close(fd);
    try {
        block::CreateOptions create;
        create.format = "qcow2";
        create.size = base->size();
        create.sizeGiven = true;
        create.backingFile = base->filename();
        create.backingFormat = base->formatName();
        block::createImage(path, create);
        block::OpenOptions open;
        open.format = "qcow2";
        open.readOnly = false;
        open.backingNode = std::shared_ptr<BlockDriver>(std::move(base));
        auto overlay = block::openImage(path, std::move(open));
        ::unlink(path.c_str());
        return overlay;
    } catch (...) {
        ::unlink(path.c_str());
        throw;
    }
}

} // namespace

IoOpenedImage openIoImage(const IoOpenRequest& request) {
    block::DriverOptions options = request.options;
    std::optional<std::string> filename = request.filename;
    // A json: name carries options; those given beside it (open -o) take precedence.
    if (filename && block::isJsonFilename(*filename)) {
        for (auto& [key, value] : block::parseJsonFilename(*filename))
            options.emplace(key, value);
        filename.reset();
        if (!options.count("driver") && !request.format.empty())
            options["driver"] = request.format;
        if (!options.count("driver") && options.count("file.filename") &&
            !options.count("file.driver"))
            options["driver"] = block::probeFormat(options["file.filename"]);
    }
    auto take = [&](const std::string& key) -> std::optional<std::string> {
        auto it = options.find(key);
        if (it == options.end())
            return std::nullopt;
        std::string value = it->second;
        options.erase(it);
        return value;
    };
    block::OpenOptions open;
    open.readOnly = request.readOnly;
    open.forceShare = request.forceShare;
    bool snapshot = request.snapshot;
    if (auto v = take("read-only"))
        open.readOnly = optionOn("read-only", *v);
    if (auto v = take("force-share")) {
        // As qemu-io: -U asks for sharing, so an option that turns it off contradicts it.
        if (request.forceShare && *v != "on")
            throw IoOpenConflict("-U conflicts with image options");
        open.forceShare = optionOn("force-share", *v);
    }
    if (auto v = take("snapshot"))
        snapshot = optionOn("snapshot", *v);
    if (auto v = take("file.locking"))
        open.locking = *v == "auto" || optionOn("file.locking", *v);
    // Node names only name the nodes (for reopen to check); e2kvm-io has no other use for them.
    for (const char* key : {"node-name", "file.node-name", "backing.node-name"})
        take(key);
    if (snapshot)
        open.readOnly = true;

    std::unique_ptr<BlockDriver> image;
    if (filename) {
        auto driver = options.find("driver");
        if (options.empty() || (options.size() == 1 && driver != options.end() &&
                                (driver->second == "raw" || driver->second == "qcow2"))) {
            open.format = options.empty() ? request.format : driver->second;
            image = block::openImage(*filename, std::move(open));
        } else {
            if (driver == options.end()) {
                options["driver"] = block::probeFormat(*filename);
                open.formatProbed = true;
            }
            const std::string& name = options["driver"];
            if (name == "raw" || name == "qcow2") {
                options.emplace("file.filename", *filename);
            } else if (name == "blkdebug" && filename->rfind("blkdebug:", 0) == 0) {
                // "blkdebug:CONFIG:IMAGE" names the rules file and the image below.
                auto colon = filename->find(':', 9);
                if (colon == std::string::npos)
                    throw BlockError(EINVAL, "Invalid filename");
                if (colon > 9)
                    options.emplace("config", filename->substr(9, colon - 9));
                options.emplace("x-image", filename->substr(colon + 1));
            } else {
                options.emplace("filename", *filename);
            }
            image = block::openImageFromOptions(options, std::move(open));
        }
    } else {
        image = block::openImageFromOptions(options, std::move(open));
    }
    IoOpenedImage opened;
    // As qemu-io: writes to the first sector of a probed raw image are restricted; say so.
    if (auto* raw = dynamic_cast<block::RawImage*>(image.get());
        raw && raw->formatProbed() && !raw->readOnly() && !snapshot)
        opened.warning = block::probedRawWarning(image->filename());
    if (snapshot)
        image = openSnapshotOverlay(std::move(image));
    opened.image = std::move(image);
    return opened;
}

} // namespace e2kvm::io

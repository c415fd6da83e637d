#include "ImageOptions.h"

#include "NullImage.h"
#include "ProtocolRegistry.h"
#include "blkdebug/BlkdebugOpen.h"
#include "qcow2/Qcow2Driver.h"

#include <stdexcept>

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

// QEMU's boolean option words.
bool booleanOption(const DriverOptions& options, const std::string& key, bool fallback) {
    auto it = options.find(key);
    if (it == options.end())
        return fallback;
    if (it->second == "on" || it->second == "true" || it->second == "yes")
        return true;
    if (it->second == "off" || it->second == "false" || it->second == "no")
        return false;
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

} // namespace

std::unique_ptr<BlockDriver> openImageFromOptions(const DriverOptions& options, OpenOptions open) {
    const std::string driver = valueOr(options, "driver");
    if (driver.empty())
        throw BlockError(EINVAL, "Parameter 'driver' is required");
    if (driver == "file" || driver == "host_device") {
        open.format = "raw";
        if (valueOr(options, "locking") == "off")
            open.locking = false;
        return openImage(valueOr(options, "filename"), std::move(open));
    }
    if (driver == "raw" || driver == "qcow2") {
        open.format = driver;
        open.formatProbed = false;
        // backing= (null in JSON): the image is opened without its backing file.
        if (auto backing = options.find("backing"); backing != options.end()) {
            if (!backing->second.empty())
                throw BlockError(ENOTSUP, "A backing node given by reference ('" + backing->second +
                                              "') is not supported");
            open.openBacking = false;
        }
        DriverOptions file = subOptions(options, "file.");
        const std::string fileDriver = valueOr(file, "driver", "file");
        if (fileDriver == "blkdebug")
            return withRuntimeOptions(openFormatOverBlkdebug(driver, file, std::move(open)),
                                      options);
        if (fileDriver != "file" && fileDriver != "host_device") {
            if (driver != "raw")
                throw BlockError(ENOTSUP, "Format '" + driver + "' over protocol '" + fileDriver +
                                              "' is not supported");
            if (auto image = openRegisteredDriver(fileDriver, file, open))
                return image;
            throw BlockError(EINVAL, "Unknown driver '" + fileDriver + "'");
        }
        std::string filename = valueOr(file, "filename", valueOr(options, "file"));
        if (valueOr(file, "locking") == "off") // QEMU's file.locking=off: no image locks
            open.locking = false;
        if (filename.empty())
            throw BlockError(EINVAL, "A block device must be specified for \"file\"");
        return withRuntimeOptions(openImage(filename, std::move(open)), options);
    }
    if (driver == "blkdebug")
        return openBlkdebugNode(options, std::move(open));
    if (driver == "null-co")
        return openNullNode(options, open);
    open.format.clear();
    if (auto image = openRegisteredDriver(driver, options, open))
        return image;
    throw BlockError(EINVAL, "Unknown driver '" + driver + "'");
}

} // namespace e2kvm::block

#include "ImageOptions.h"

#include "ProtocolRegistry.h"
#include "blkdebug/BlkdebugOpen.h"

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

} // namespace

std::unique_ptr<BlockDriver> openImageFromOptions(const DriverOptions& options, OpenOptions open) {
    const std::string driver = valueOr(options, "driver");
    if (driver.empty())
        throw BlockError(EINVAL, "Parameter 'driver' is required");
    if (driver == "file" || driver == "host_device") {
        open.format = "raw";
        return openImage(valueOr(options, "filename"), std::move(open));
    }
    if (driver == "raw" || driver == "qcow2") {
        open.format = driver;
        open.formatProbed = false;
        DriverOptions file = subOptions(options, "file.");
        const std::string fileDriver = valueOr(file, "driver", "file");
        if (fileDriver == "blkdebug")
            return openFormatOverBlkdebug(driver, file, std::move(open));
        if (fileDriver != "file" && fileDriver != "host_device") {
            if (driver != "raw")
                throw BlockError(ENOTSUP, "Format '" + driver + "' over protocol '" + fileDriver +
                                              "' is not supported");
            if (auto image = openRegisteredDriver(fileDriver, file, open))
                return image;
            throw BlockError(EINVAL, "Unknown driver '" + fileDriver + "'");
        }
        std::string filename = valueOr(file, "filename", valueOr(options, "file"));
        if (filename.empty())
            throw BlockError(EINVAL, "A block device must be specified for \"file\"");
        return openImage(filename, std::move(open));
    }
    if (driver == "blkdebug")
        return openBlkdebugNode(options, std::move(open));
    open.format.clear();
    if (auto image = openRegisteredDriver(driver, options, open))
        return image;
    throw BlockError(EINVAL, "Unknown driver '" + driver + "'");
}

} // namespace e2kvm::block

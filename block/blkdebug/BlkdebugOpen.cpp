#include "BlkdebugOpen.h"

#include "BlkdebugConfig.h"
#include "BlkdebugImage.h"
#include "app/json/QdictOrder.h"
#include "block/ImageOptions.h"

namespace e2kvm::block {

namespace {

std::string valueOr(const std::map<std::string, std::string>& m, const std::string& key,
                    const std::string& fallback = {}) {
    auto it = m.find(key);
    return it == m.end() ? fallback : it->second;
}

bool hasInlineRules(const std::map<std::string, std::string>& node) {
    for (const auto& [key, value] : node)
        if (key.rfind("inject-error.", 0) == 0 || key.rfind("set-state.", 0) == 0)
            return true;
    return false;
}

std::shared_ptr<Blkdebug> injectorFor(const std::map<std::string, std::string>& node) {
    auto injector = makeBlkdebug(valueOr(node, "config"), node);
    if (auto align = node.find("align"); align != node.end()) {
        const uint64_t bytes = parseSize(align->second);
        if (bytes == 0 || (bytes & (bytes - 1)) != 0 || bytes > (1u << 30))
            throw BlockError(EINVAL, "Cannot meet constraints with align " + align->second);
        injector->setAlignment(bytes);
    }
    Blkdebug::ZeroLimits limits;
    auto sizeOption = [&node](const char* key) {
        auto it = node.find(key);
        return it == node.end() ? uint64_t(0) : parseSize(it->second);
    };
    limits.maxTransfer = sizeOption("max-transfer");
    limits.writeZeroAlignment = sizeOption("opt-write-zero");
    limits.maxWriteZeroes = sizeOption("max-write-zero");
    injector->setZeroLimits(limits);
    injector->event(BlkdebugEvent::None);
    return injector;
}

// The file the node's image names: image.filename (image.driver=file) or x-image.
std::string imageFile(const std::map<std::string, std::string>& node) {
    auto image = subOptions(node, "image.");
    const std::string driver = valueOr(image, "driver", "file");
    if (driver != "file" && driver != "host_device")
        throw BlockError(ENOTSUP, "blkdebug under a format over '" + driver +
                                      "' is not supported; its image must be a file");
    std::string filename = valueOr(image, "filename", valueOr(node, "x-image"));
    if (filename.empty())
        throw BlockError(EINVAL, "A block device must be specified for \"image\"");
    return filename;
}

// A filename given to the node itself (file.filename under a format): "blkdebug:CONFIG:IMAGE"
// names the rules file and the image, any other name the image alone (QEMU's x-image).
std::map<std::string, std::string> withFilenameSplit(std::map<std::string, std::string> node) {
    auto it = node.find("filename");
    if (it == node.end())
        return node;
    const std::string filename = it->second;
    node.erase(it);
    if (auto name = parseBlkdebugName(filename)) {
        if (!name->configFile.empty())
            node.emplace("config", name->configFile);
        node.emplace("x-image", name->image);
    } else {
        node.emplace("x-image", filename);
    }
    return node;
}

// A blkdebug node with rules of its own (inline) cannot be named by a filename: QEMU names it
// by its options, json:{...} (its rules as dotted keys, its image as an object), written in the
// order QEMU's QDict iterates them. Members whose keys share a QDict bucket
// ("inject-error.0.errno", "inject-error.0.event") come out in key order in QEMU's names, so
// they are added here last key first (a bucket lists the member added last first).
json::Json blkdebugOptions(const std::map<std::string, std::string>& node,
                           const std::string& imageFilename) {
    json::Json out = json::Json::object();
    for (auto it = node.rbegin(); it != node.rend(); ++it) {
        const std::string& key = it->first;
        if (key != "driver" && key != "x-image" && key.rfind("image.", 0) != 0)
            out.set(key, it->second);
    }
    out.set("driver", "blkdebug");
    out.set("image", json::Json::object({{"driver", "file"}, {"filename", imageFilename}}));
    return out;
}

} // namespace

std::unique_ptr<BlockDriver> openFormatOverBlkdebug(const std::string& format,
                                                    const std::map<std::string, std::string>& given,
                                                    OpenOptions open) {
    const auto node = withFilenameSplit(given);
    const std::string filename = imageFile(node);
    open.format = format;
    open.formatProbed = false;
    open.blkdebug = injectorFor(node);
    auto image = openImage(filename, std::move(open));
    if (!hasInlineRules(node))
        image->setFilename("blkdebug:" + valueOr(node, "config") + ":" + filename);
    else
        image->setFilename(
            "json:" +
            json::inQdictOrder(
                json::Json::object({{"driver", format}, {"file", blkdebugOptions(node, filename)}}))
                .serialize());
    return image;
}

std::unique_ptr<BlockDriver> openBlkdebugNode(const std::map<std::string, std::string>& given,
                                              OpenOptions open) {
    const auto node = withFilenameSplit(given);
    auto injector = injectorFor(node);
    auto image = subOptions(node, "image.");
    std::unique_ptr<BlockDriver> below;
    const std::string driver = valueOr(image, "driver", "file");
    if (driver == "file" || driver == "host_device") {
        open.format = "raw";
        open.formatProbed = false;
        below = openImage(imageFile(node), std::move(open));
    } else {
        if (image.count("filename") && !image.count("file.filename") && !image.count("file"))
            image["file.filename"] = image["filename"];
        if (!image.count("file.filename") && !image.count("file") && node.count("x-image"))
            image["file.filename"] = node.at("x-image");
        image.erase("filename");
        below = openImageFromOptions(image, std::move(open));
    }
    auto blkdebug = std::make_unique<BlkdebugImage>(std::move(injector), std::move(below));
    // As QEMU names a blkdebug node whose rules come from a file (or that has none).
    if (!hasInlineRules(node))
        blkdebug->setFilename("blkdebug:" + valueOr(node, "config") + ":" +
                              blkdebug->image().filename());
    return blkdebug;
}

} // namespace e2kvm::block

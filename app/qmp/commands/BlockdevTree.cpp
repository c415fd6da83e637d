// blockdev-add of node trees through the block library (see BlockdevTree.h).
#include "app/qmp/commands/BlockdevTree.h"

#include "app/qmp/BlockdevDriverKeys.h"
#include "app/qmp/QmpError.h"
#include "app/qmp/commands/NodeLookup.h"
#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/blkdebug/BlkdebugConfig.h"
#include "block/blkdebug/BlkdebugImage.h"
#include "block/blkdebug/BlkdebugRawFormat.h"
#include "block/filter/BlkverifyFilter.h"
#include "block/filter/CompressFilter.h"
#include "block/filter/CopyOnReadFilter.h"
#include "block/filter/PassThroughFilter.h"
#include "block/filter/RawWindow.h"
#include "block/filter/ThrottleFilter.h"
#include "block/qcow2/Qcow2Driver.h"

#include <algorithm>
#include <optional>
#include <set>

namespace e2kvm::qmp {

namespace {

// The members that are BlockdevRefs: a child given inline (an object) or by node name.
bool isChildKey(const std::string& key) {
    static const std::set<std::string> children = {"file", "image",   "test",
                                                   "raw",  "backing", "data-file"};
    return children.count(key) != 0;
}

// The node of the table a reference names, or null (a file node, or nothing).
std::shared_ptr<vm::BlockNode> tableNode(QmpContext& ctx, const std::string& name) {
    if (ctx.fileNodes.count(name))
        return nullptr;
    if (auto node = ctx.nodes.find(name))
        return node;
    try {
        return lookupNode(ctx, name); // a drive id
    } catch (const QmpError&) {
        return nullptr;
    }
}

// Filters the block library does not open from options (they need the process's objects or
// are QMP's own); BlockdevTree builds them.
bool builtHere(const std::string& driver) {
    return driver == "throttle" || driver == "copy-on-read";
}

std::string stringMember(const Json& node, const std::string& key) {
    const Json* v = node.find(key);
    return v && v->isString() ? v->asString() : std::string();
}

// Whether the tree names a node of the table or has a filter or raw window built here anywhere
// (then it is built node by node).
bool mustBuild(QmpContext& ctx, const Json& node) {
    if (builtHere(stringMember(node, "driver")))
        return true;
    // A raw window is built here too, so that blockdev-reopen can move it.
    if (stringMember(node, "driver") == "raw" && (node.find("offset") || node.find("size")))
        return true;
    for (const auto& [key, value] : node.asObject()) {
        if (!isChildKey(key))
            continue;
        if (value.isString() && tableNode(ctx, value.asString()))
            return true;
        if (value.isObject() && mustBuild(ctx, value))
            return true;
    }
    return false;
}

std::string missingNode(const std::string& name) {
    return "Cannot find device='" + name + "' nor node-name='" + name + "'";
}

// The tree as QEMU's dotted options ("image.driver": "file", "inject-error.0.event": ...); a
// file node named by reference becomes its inline definition.
void flatten(QmpContext& ctx, const Json& value, const std::string& key, block::DriverOptions& out,
             std::string* fileNode) {
    switch (value.type()) {
    case Json::Type::Object:
        for (const auto& [k, v] : value.asObject())
            flatten(ctx, v, key.empty() ? k : key + "." + k, out, fileNode);
        return;
    case Json::Type::Array:
        for (size_t i = 0; i < value.asArray().size(); ++i)
            flatten(ctx, value.asArray()[i], key + "." + std::to_string(i), out, fileNode);
        return;
    case Json::Type::Null:
        out[key] = ""; // backing: null
        return;
    case Json::Type::Bool:
        out[key] = value.asBool() ? "on" : "off";
        return;
    case Json::Type::String: {
        const std::string last = key.substr(key.rfind('.') + 1);
        if (isChildKey(last) && last != "backing") {
            auto file = ctx.fileNodes.find(value.asString());
            if (file == ctx.fileNodes.end())
                throw QmpError(missingNode(value.asString()));
            out[key + ".driver"] = "file";
            out[key + ".filename"] = file->second;
            *fileNode = file->first;
            return;
        }
        out[key] = value.asString();
        return;
    }
    default:
        out[key] = value.serialize();
        return;
    }
}

// Refuses a key the driver of its node does not take, as QEMU's QAPI check does; `prefix`
// is where the node is in the whole tree ("file.").
void checkKeys(const block::DriverOptions& options, const std::string& prefix) {
    auto unknown = unknownDriverKey(options, "");
    if (!unknown)
        return;
    if (unknown->unknownDriver)
        throw QmpError("Parameter '" + prefix + unknown->path + "' does not accept value '" +
                       unknown->driver + "'");
    throw QmpError("Parameter '" + prefix + unknown->path + "' is unexpected");
}

class TreeBuilder {
public:
    TreeBuilder(QmpContext& ctx, bool readOnly) : ctx_(ctx), readOnly_(readOnly) {}

    // `prefix`: where `node` is in the whole tree, for messages ("file.").
    std::shared_ptr<block::BlockDriver> open(const Json& node, const std::string& prefix = {}) {
        prefix_ = prefix;
        if (!mustBuild(ctx_, node)) {
            block::DriverOptions options;
            flatten(ctx_, node, "", options, &tree_.fileNode);
            options.erase("node-name");
            checkKeys(options, prefix);
            block::OpenOptions open;
            open.readOnly = readOnly_;
            return block::openImageFromOptions(options, open);
        }
        const std::string driver = stringMember(node, "driver");
        if (driver == "blkverify")
            return std::make_shared<block::BlkverifyFilter>(child(node, "test"),
                                                            child(node, "raw"));
        if (driver == "compress")
            return std::make_shared<block::CompressFilter>(child(node, "file"));
        if (driver == "blkdebug")
            return blkdebugOver(node);
        if (driver == "throttle")
            return throttleOver(node);
        if (driver == "copy-on-read") {
            block::DriverOptions options = ownOptions(node, "file");
            std::shared_ptr<block::BlockDriver> bottom;
            std::string bottomName;
            if (auto b = options.find("bottom"); b != options.end()) {
                bottomName = b->second;
                auto n = ctx_.nodes.find(bottomName);
                if (!n)
                    throw QmpError("Bottom node '" + bottomName + "' not found");
                bottom = n->image;
            }
            return std::make_shared<block::CopyOnReadFilter>(child(node, "file"), bottom,
                                                             bottomName);
        }
        if (driver == "qcow2" || driver == "raw")
            return formatOver(node, driver);
        throw QmpError("Driver '" + driver +
                       "': e2kvm takes its children by reference for blkdebug, blkverify, "
                       "compress, copy-on-read, throttle, qcow2 and raw only");
    }

    BlockdevTree take() { return std::move(tree_); }

private:
    // A child: a node of the table, a file node, or a tree of its own.
    std::shared_ptr<block::BlockDriver> child(const Json& node, const std::string& key) {
        const Json* ref = node.find(key);
        if (!ref)
            throw QmpError("Parameter '" + key + "' is missing");
        if (ref->isObject()) {
            const std::string saved = prefix_;
            // A file child without a driver is a host file (QEMU probes the protocol).
            Json withDriver = *ref;
            if (!ref->find("driver") && key != "backing" && key != "test")
                withDriver.set("driver", "file");
            auto image = open(withDriver, prefix_ + key + ".");
            prefix_ = saved;
            return image;
        }
        if (!ref->isString())
            throw QmpError("Invalid parameter type for '" + key + "', expected: object");
        if (auto n = tableNode(ctx_, ref->asString())) {
            if (std::find(tree_.children.begin(), tree_.children.end(), n->name) ==
                tree_.children.end())
                tree_.children.push_back(n->name);
            return n->image;
        }
        auto file = ctx_.fileNodes.find(ref->asString());
        if (file == ctx_.fileNodes.end())
            throw QmpError(missingNode(ref->asString()));
        tree_.fileNode = file->first;
        block::OpenOptions open;
        open.readOnly = readOnly_;
        return block::openImageFromOptions({{"driver", "file"}, {"filename", file->second}}, open);
    }

    // The host file a "file" child names: an inline {driver: file, filename} (the keys a file
    // node takes and no others), or a file node added before (then in use by this tree).
    std::optional<std::string> hostFile(const Json* ref) {
        if (!ref)
            return std::nullopt;
        if (ref->isString()) {
            auto file = ctx_.fileNodes.find(ref->asString());
            if (file == ctx_.fileNodes.end() || tableNode(ctx_, ref->asString()))
                return std::nullopt;
            tree_.fileNode = file->first;
            return file->second;
        }
        if (!ref->isObject())
            return std::nullopt;
        static const std::set<std::string> fileKeys = {"driver", "filename", "aio", "locking"};
        for (const auto& [k, v] : ref->asObject())
            if (!fileKeys.count(k))
                return std::nullopt;
        const Json* driver = ref->find("driver");
        const Json* filename = ref->find("filename");
        if ((driver && (!driver->isString() || driver->asString() != "file")) || !filename ||
            !filename->isString())
            return std::nullopt;
        return filename->asString();
    }

    // Every key but the child's, for the driver's own options.
    block::DriverOptions ownOptions(const Json& node, const std::string& childKey) {
        Json own = Json::object();
        for (const auto& [k, v] : node.asObject())
            if (k != childKey && k != "node-name")
                own.set(k, v);
        block::DriverOptions options;
        flatten(ctx_, own, "", options, &tree_.fileNode);
        checkKeys(options, prefix_);
        return options;
    }

    std::shared_ptr<block::BlockDriver> blkdebugOver(const Json& node) {
        block::DriverOptions options = ownOptions(node, "image");
        auto config = options.find("config");
        auto injector =
            block::makeBlkdebug(config == options.end() ? std::string() : config->second, options);
        if (auto align = options.find("align"); align != options.end()) {
            const uint64_t bytes = block::parseSize(align->second);
            if (bytes == 0 || (bytes & (bytes - 1)) != 0 || bytes > (1u << 30))
                throw QmpError("Cannot meet constraints with align " + align->second);
            injector->setAlignment(bytes);
        }
        injector->event(block::BlkdebugEvent::None);
        return std::make_shared<block::BlkdebugImage>(
            injector, std::make_unique<block::PassThroughFilter>(child(node, "image")));
    }

    std::shared_ptr<block::BlockDriver> throttleOver(const Json& node) {
        ownOptions(node, "file");
        const Json* id = node.find("throttle-group");
        if (!id)
            throw QmpError("Parameter 'throttle-group' is missing");
        if (!id->isString())
            throw QmpError("Invalid parameter type for 'throttle-group', expected: string");
        auto group = ctx_.throttleGroups.find(id->asString());
        if (group == ctx_.throttleGroups.end())
            throw QmpError("Throttle group '" + id->asString() + "' does not exist");
        return std::make_shared<block::ThrottleFilter>(child(node, "file"), group->second,
                                                       id->asString());
    }

    std::shared_ptr<block::BlockDriver> formatOver(const Json& node, const std::string& driver) {
        block::DriverOptions options = ownOptions(node, "file");
        block::OpenOptions open;
        open.readOnly = readOnly_;
        const Json* backing = node.find("backing");
        // Options for the backing file the image names (backing.node-name=, backing.backing=
        // NODE): that file is opened after the image, from its header.
        const bool namedBacking = driver == "qcow2" && backing && backing->isObject() &&
                                  !backing->find("driver") && !backing->find("file");
        if (backing && namedBacking) {
            open.openBacking = false;
        } else if (backing) {
            if (backing->isNull())
                open.openBacking = false;
            else if (backing->isString() || backing->isObject())
                open.backingNode = child(node, "backing");
            else
                throw QmpError("Invalid parameter type for '" + prefix_ +
                               "backing', expected: object");
        }
        // raw passes every request through: over a node it is that node (over a blkdebug node,
        // a format of its own that raises the events). A qcow2 image on a
        // host file opens that file itself (its file grows as clusters are allocated).
        std::shared_ptr<block::BlockDriver> image;
        if (driver == "raw") {
            image = child(node, "file");
            // Over a blkdebug node, raw raises the read/write events its rules act on.
            if (image->formatName() == "blkdebug" && image->blkdebug())
                image = std::make_shared<block::BlkdebugRawFormat>(image);
        } else if (auto host = hostFile(node.find("file"))) {
            open.format = driver;
            try {
                image = block::openImage(*host, std::move(open));
            } catch (const block::BlockError& e) {
                throw QmpError("Could not open '" + *host + "': " + e.what());
            }
        } else {
            image = block::openFormatOverNode(driver, child(node, "file"), std::move(open));
        }
        if (namedBacking)
            openNamedBacking(*image, *backing);
        if (driver == "raw" && (options.count("offset") || options.count("size"))) {
            const uint64_t offset = options.count("offset")
                                        ? block::RawWindow::byteSize("offset", options.at("offset"))
                                        : 0;
            std::optional<uint64_t> size;
            if (options.count("size"))
                size = block::RawWindow::byteSize("size", options.at("size"));
            auto window = std::make_shared<block::RawWindow>(image, offset, size);
            tree_.rawWindows[prefix_] = window;
            image = window;
        }
        return image;
    }

    // The backing file `image`'s header names, opened read-only (in the format the header
    // records, else probed) with the options `backing` gives it, as QEMU opens a backing child
    // given without driver and file.
    void openNamedBacking(block::BlockDriver& image, const Json& backing) {
        auto* q = dynamic_cast<block::qcow2::Qcow2Driver*>(&image);
        block::ImageDescription header;
        image.describe(header);
        if (!q || header.fullBackingFilename.empty())
            throw QmpError("Parameter '" + prefix_ + "backing' is given, but '" + image.filename() +
                           "' has no backing file");
        Json withFile = backing;
        withFile.set("driver", header.backingFormat.empty()
                                   ? block::probeFormat(header.fullBackingFilename)
                                   : header.backingFormat);
        Json file = Json::object();
        file.set("driver", "file");
        file.set("filename", header.fullBackingFilename);
        withFile.set("file", file);
        // A backing file is read-only whatever its overlay is; prefix_ and readOnly_ are
        // back as they were afterwards, whatever happens.
        struct Restore {
            TreeBuilder& builder;
            std::string prefix;
            bool readOnly;
            ~Restore() {
                builder.prefix_ = prefix;
                builder.readOnly_ = readOnly;
            }
        } restore{*this, prefix_, readOnly_};
        readOnly_ = true;
        std::shared_ptr<block::BlockDriver> below;
        try {
            below = open(withFile, restore.prefix + "backing.");
        } catch (const block::BlockError& e) {
            throw QmpError("Could not open backing file: " + std::string(e.what()));
        }
        q->replaceBacking(std::move(below));
    }

    QmpContext& ctx_;
    bool readOnly_;
    BlockdevTree tree_;
    std::string prefix_; // where the node being opened is in the tree
};

} // namespace

BlockdevTree openBlockdevTree(QmpContext& ctx, const Json& options, bool readOnly) {
    TreeBuilder builder(ctx, readOnly);
    std::shared_ptr<block::BlockDriver> image;
    try {
        image = builder.open(options);
    } catch (const block::BlockError& e) {
        throw QmpError(e.what());
    }
    BlockdevTree tree = builder.take();
    tree.image = std::move(image);
    return tree;
}

bool opensAsBlockdevTree(const std::string& driver) {
    return driver == "blkdebug" || driver == "blkverify" || driver == "compress" ||
           builtHere(driver);
}

} // namespace e2kvm::qmp

#include "block/quorum/QuorumOpen.h"

#include "app/json/Json.h"
#include "app/json/QdictOrder.h"
#include "block/BlockError.h"

#include <cctype>
#include <cstdlib>
#include <set>

namespace e2kvm::block::quorum {

namespace {

std::string childPrefix(size_t i) {
    return "children." + std::to_string(i);
}

bool hasChild(const DriverOptions& options, size_t i) {
    const std::string key = childPrefix(i);
    auto it = options.lower_bound(key);
    return it != options.end() &&
           (it->first == key || it->first.compare(0, key.size() + 1, key + ".") == 0);
}

// Dotted keys as nested objects ("file.filename" -> {"file": {"filename": ...}}), values as
// strings except whole numbers, the way a child's options read back in QEMU's json: name.
json::Json nested(const DriverOptions& options) {
    json::Json out = json::Json::object();
    for (const auto& [key, value] : options) {
        json::Json* at = &out;
        size_t start = 0;
        for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
            const std::string part = key.substr(start, dot - start);
            const json::Json* next = at->find(part);
            if (!next || !next->isObject())
                next = at->set(part, json::Json::object()).find(part);
            at = const_cast<json::Json*>(next);
        }
        at->set(key.substr(start), json::Json(value));
    }
    // A file child named by its filename only is a file node.
    if (const json::Json* file = out.find("file");
        file && file->isObject() && !file->find("driver"))
        const_cast<json::Json*>(file)->set("driver", "file");
    return out;
}

// QEMU's name for the node: its driver, the options it was given that change what it reads,
// and its children's options, as json:{...} in QEMU's member order.
std::string quorumName(const DriverOptions& options, size_t childCount) {
    json::Json node = json::Json::object();
    node.set("driver", "quorum");
    if (options.count("vote-threshold"))
        node.set("vote-threshold", json::Json(static_cast<unsigned long long>(
                                       numberOption(options, "vote-threshold"))));
    for (const char* key : {"blkverify", "rewrite-corrupted"})
        if (options.count(key))
            node.set(key, json::Json(booleanOption(options, key, false)));
    if (options.count("read-pattern"))
        node.set("read-pattern", options.at("read-pattern"));
    json::Json children = json::Json::array();
    for (size_t i = 0; i < childCount; ++i)
        children.push(nested(subOptions(options, childPrefix(i) + ".")));
    node.set("children", std::move(children));
    return "json:" + json::inQdictOrder(node).serialize();
}

std::shared_ptr<BlockDriver> openChild(const DriverOptions& options, size_t i,
                                       const OpenOptions& open) {
    const std::string key = childPrefix(i);
    if (auto it = options.find(key); it != options.end()) // a node name (QMP only)
        throw BlockError(EINVAL, "Cannot find device='" + it->second + "' nor node-name='" +
                                     it->second + "'");
    DriverOptions child = subOptions(options, key + ".");
    OpenOptions childOpen;
    childOpen.readOnly = open.readOnly;
    childOpen.locking = open.locking;
    childOpen.forceShare = open.forceShare;
    childOpen.metadataOnly = open.metadataOnly;
    childOpen.chain = open.chain;
    if (!child.count("driver")) {
        // No driver: the format is probed from the file the child names.
        std::string filename;
        if (child.count("filename"))
            filename = child.at("filename");
        else if (child.count("file.filename") && !child.count("file.driver"))
            filename = child.at("file.filename");
        if (filename.empty())
            throw BlockError(EINVAL, "A block device must be specified for \"" + key + "\"");
        if (child.count("filename") && child.size() == 1)
            return openImage(filename, std::move(childOpen));
        child["driver"] = probeFormat(filename);
    }
    return openImageFromOptions(child, std::move(childOpen));
}

} // namespace

size_t quorumChildCount(const DriverOptions& options) {
    size_t count = 0;
    while (hasChild(options, count))
        ++count;
    // Any other children.* key makes it no array (a gap, or a name that is no index).
    for (auto it = options.lower_bound("children."); it != options.end(); ++it) {
        if (it->first.compare(0, 9, "children.") != 0)
            break;
        const std::string rest = it->first.substr(9);
        const std::string index = rest.substr(0, rest.find('.'));
        bool digits = !index.empty();
        for (char c : index)
            digits = digits && std::isdigit(static_cast<unsigned char>(c));
        if (!digits || std::strtoull(index.c_str(), nullptr, 10) >= count)
            throw BlockError(EINVAL, "Option children is not a valid array");
    }
    return count;
}

QuorumSettings quorumSettings(const DriverOptions& options, size_t childCount) {
    if (childCount < 1)
        throw BlockError(EINVAL, "Number of provided children must be 1 or more");
    QuorumSettings s;
    const uint64_t threshold =
        options.count("vote-threshold") ? numberOption(options, "vote-threshold") : 0;
    const bool blkverify = booleanOption(options, "blkverify", false);
    const bool rewrite = booleanOption(options, "rewrite-corrupted", false);
    if (threshold < 1)
        throw BlockError(EINVAL, "Parameter 'vote-threshold' expects a value >= 1");
    if (threshold > childCount)
        throw BlockError(EINVAL, "threshold may not exceed children count");
    s.voteThreshold = static_cast<size_t>(threshold);
    if (auto it = options.find("read-pattern"); it != options.end()) {
        if (it->second == "fifo")
            s.readPattern = ReadPattern::Fifo;
        else if (it->second != "quorum")
            throw BlockError(EINVAL, "Please set read-pattern as fifo or quorum");
    }
    if (s.readPattern == ReadPattern::Quorum) {
        s.blkverify = blkverify;
        if (s.blkverify && (childCount != 2 || s.voteThreshold != 2))
            throw BlockError(EINVAL, "blkverify=on can only be set if there are exactly two "
                                     "files and vote-threshold is 2");
        s.rewriteCorrupted = rewrite;
        if (s.rewriteCorrupted && s.blkverify)
            throw BlockError(EINVAL, "rewrite-corrupted=on cannot be used with blkverify=on");
    }
    return s;
}

std::unique_ptr<QuorumImage> openQuorumNode(const DriverOptions& options, const OpenOptions& open) {
    const size_t count = quorumChildCount(options);
    const QuorumSettings settings = quorumSettings(options, count);
    // Correcting a child writes it, whatever the node above allows.
    OpenOptions childOpen = open;
    if (settings.rewriteCorrupted)
        childOpen.readOnly = false;
    std::vector<std::shared_ptr<BlockDriver>> children;
    for (size_t i = 0; i < count; ++i)
        children.push_back(openChild(options, i, childOpen));
    return std::make_unique<QuorumImage>(quorumName(options, count), std::move(children), settings,
                                         open.readOnly, open.format == "raw" ? "raw" : "quorum");
}

} // namespace e2kvm::block::quorum

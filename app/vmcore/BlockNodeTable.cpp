#include "app/vmcore/BlockNodeTable.h"

#include "app/vmcore/QemuId.h"
#include "block/ImageOpen.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <stdexcept>

namespace e2kvm::vm {

namespace {

// QEMU's name for a node nobody named: "#block" and a counter of at least three digits
// ("#block007"; iotests filter them by that shape).
std::string generatedNodeName(unsigned counter) {
    std::string digits = std::to_string(counter);
    if (digits.size() < 3)
        digits.insert(0, 3 - digits.size(), '0');
    return "#block" + digits;
}

} // namespace

namespace {

// QEMU's node-name rule: a letter first, then letters, digits, '-', '.', '_'; under 32 bytes.
void checkNodeName(const std::string& name) {
    if (name.size() > 31)
        throw std::invalid_argument("Node name too long");
    if (!wellFormedId(name))
        throw std::invalid_argument("Invalid node-name: '" + name + "'");
}

std::string canonicalPath(const std::string& file) {
    char buf[PATH_MAX];
    if (::realpath(file.c_str(), buf))
        return buf;
    return file;
}

} // namespace

std::string BlockNodeTable::backingUser(const std::string& overlayNode) {
    return "backing of node '" + overlayNode + "'";
}

bool BlockNodeTable::validNodeName(const std::string& name) {
    try {
        checkNodeName(name);
        return true;
    } catch (const std::invalid_argument&) {
        return false;
    }
}

std::shared_ptr<BlockNode> BlockNodeTable::open(const std::string& file, const std::string& format,
                                                bool readOnly, const std::string& nodeName,
                                                bool forceShare, OpenReuse reuseMode) {
    if (!nodeName.empty())
        checkNodeName(nodeName);
    if (!format.empty() && format != "qcow2" && format != "raw")
        throw block::BlockError(EINVAL, "Unknown driver '" + format + "'");
    const std::string canonical = canonicalPath(file);

    auto reuse = [&]() -> std::shared_ptr<BlockNode> {
        // Caller holds mutex_.
        for (const Entry& e : entries_) {
            if (!nodeName.empty() && e.node->name == nodeName &&
                (e.canonical != canonical || reuseMode == OpenReuse::Never))
                throw std::invalid_argument("Duplicate nodes with node-name='" + nodeName + "'");
        }
        if (reuseMode == OpenReuse::Never)
            return nullptr;
        for (const Entry& e : entries_) {
            if (e.canonical != canonical)
                continue;
            if (e.node->readOnly && !readOnly)
                throw std::runtime_error(file + ": already open read-only as node '" +
                                         e.node->name + "'");
            if (!format.empty() && format != e.node->format)
                throw std::runtime_error(file + ": already open as " + e.node->format + " node '" +
                                         e.node->name + "'");
            return e.node;
        }
        return nullptr;
    };
    {
        std::lock_guard lock(mutex_);
        if (auto existing = reuse())
            return existing;
    }

    // Opening may be slow (bitmap loading); do it without the lock, then insert after a
    // second look in case another thread opened the same file meanwhile.
    auto node = std::make_shared<BlockNode>();
    node->file = file;
    node->format = format.empty() ? block::probeFormat(file) : format;
    node->readOnly = readOnly;
    block::OpenOptions options;
    options.format = node->format;
    options.formatProbed = format.empty(); // a probed raw node keeps its first sector raw
    options.readOnly = readOnly;
    // A VM's disk, as QEMU's guest devices (share-rw=off): no other process may write it.
    options.unshare = forceShare ? 0u : unsigned(block::kPermWrite);
    options.forceShare = forceShare;
    node->image = block::openImage(file, options);
    {
        std::lock_guard lock(mutex_);
        if (auto existing = reuse())
            return existing; // ours is dropped (closing it saves nothing new)
        if (nodeName.empty()) {
            for (;;) {
                std::string candidate = generatedNodeName(nextGenerated_++);
                bool taken = std::any_of(entries_.begin(), entries_.end(),
                                         [&](const Entry& e) { return e.node->name == candidate; });
                if (!taken) {
                    node->name = candidate;
                    break;
                }
            }
        } else {
            node->name = nodeName;
        }
        node->created = nextCreated_++;
        entries_.push_back(Entry{node, canonical, {}});
    }
    notifyChange();
    return node;
}

std::shared_ptr<BlockNode> BlockNodeTable::add(std::shared_ptr<block::BlockDriver> image,
                                               const std::string& file, const std::string& format,
                                               bool readOnly, const std::string& nodeName) {
    if (!nodeName.empty())
        checkNodeName(nodeName);
    auto node = std::make_shared<BlockNode>();
    node->name = nodeName;
    node->file = file;
    node->format = format;
    node->readOnly = readOnly;
    node->image = std::move(image);
    {
        std::lock_guard lock(mutex_);
        for (const Entry& e : entries_)
            if (e.node->name == nodeName)
                throw std::invalid_argument("Duplicate nodes with node-name='" + nodeName + "'");
        while (node->name.empty()) { // generated, as open() does
            std::string candidate = generatedNodeName(nextGenerated_++);
            if (std::none_of(entries_.begin(), entries_.end(),
                             [&](const Entry& e) { return e.node->name == candidate; }))
                node->name = candidate;
        }
        // An image opened over another node (a fleecing overlay) keeps that node busy until
        // this one is removed.
        if (const block::BlockDriver* backing = node->image->backing())
            for (Entry& e : entries_)
                if (e.node->image.get() == backing)
                    e.users.push_back(backingUser(node->name));
        node->created = nextCreated_++;
        // A NUL byte cannot occur in a path: no file name ever matches this node.
        entries_.push_back(Entry{node, std::string(1, '\0') + node->name, {}});
    }
    notifyChange();
    return node;
}

std::shared_ptr<BlockNode> BlockNodeTable::find(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.node->name == nodeName)
            return e.node;
    return nullptr;
}

std::shared_ptr<BlockNode> BlockNodeTable::findByFile(const std::string& file) const {
    const std::string canonical = canonicalPath(file);
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.canonical == canonical)
            return e.node;
    return nullptr;
}

std::vector<std::shared_ptr<BlockNode>> BlockNodeTable::list() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<BlockNode>> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_)
        out.push_back(e.node);
    return out;
}

bool BlockNodeTable::overlaysOpenNode(const BlockNode& node) const {
    const block::BlockDriver* backing = node.image ? node.image->backing() : nullptr;
    if (!backing)
        return false;
    std::lock_guard lock(mutex_);
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const Entry& e) { return e.node->image.get() == backing; });
}

bool BlockNodeTable::remove(const std::string& nodeName) {
    std::shared_ptr<BlockNode> dropped;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const Entry& e) { return e.node->name == nodeName; });
        if (it == entries_.end())
            return false;
        if (!it->users.empty())
            throw std::runtime_error("node '" + nodeName + "' is in use by " + it->users.front());
        dropped = std::move(it->node);
        entries_.erase(it);
        if (const block::BlockDriver* backing =
                dropped->image ? dropped->image->backing() : nullptr)
            for (Entry& e : entries_)
                if (e.node->image.get() == backing)
                    std::erase(e.users, backingUser(nodeName));
    }
    // The image closes (and stores its bitmaps) here unless someone else still holds it.
    dropped.reset();
    notifyChange();
    return true;
}

void BlockNodeTable::setUser(const std::string& nodeName, const std::string& user, bool inUse) {
    std::lock_guard lock(mutex_);
    for (Entry& e : entries_) {
        if (e.node->name != nodeName)
            continue;
        auto it = std::find(e.users.begin(), e.users.end(), user);
        if (inUse && it == e.users.end())
            e.users.push_back(user);
        else if (!inUse && it != e.users.end())
            e.users.erase(it);
        return;
    }
}

std::vector<std::string> BlockNodeTable::users(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    for (const Entry& e : entries_)
        if (e.node->name == nodeName)
            return e.users;
    return {};
}

uint64_t BlockNodeTable::noteOutsideNodeCreated(const std::string& nodeName) {
    std::lock_guard lock(mutex_);
    return outsideCreated_[nodeName] = nextCreated_++;
}

void BlockNodeTable::forgetOutsideNode(const std::string& nodeName) {
    std::lock_guard lock(mutex_);
    outsideCreated_.erase(nodeName);
}

uint64_t BlockNodeTable::outsideNodeCreated(const std::string& nodeName) const {
    std::lock_guard lock(mutex_);
    auto it = outsideCreated_.find(nodeName);
    return it == outsideCreated_.end() ? 0 : it->second;
}

void BlockNodeTable::setOnChange(std::function<void()> cb) {
    std::lock_guard lock(mutex_);
    onChange_ = std::move(cb);
}

void BlockNodeTable::notifyChange() {
    std::function<void()> cb;
    {
        std::lock_guard lock(mutex_);
        cb = onChange_;
    }
    if (cb)
        cb();
}

} // namespace e2kvm::vm

#include "app/vmcore/FuseExportTable.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::vm {

namespace {

// How an export stands among its node's users (the label NBD exports use too: export ids are
// unique across export types).
std::string userLabel(const std::string& id) {
    return "export '" + id + "'";
}

} // namespace

FuseExportTable::FuseExportTable(BlockNodeTable& nodes) : nodes_(nodes) {}

FuseExportTable::~FuseExportTable() {
    {
        std::lock_guard lock(mutex_);
        listeners_.clear();
    }
    removeAll();
}

void FuseExportTable::add(const FuseExportRequest& request) {
    std::shared_ptr<BlockNode> node = nodes_.find(request.nodeName);
    if (!node)
        throw std::runtime_error("Cannot find device='' nor node-name='" + request.nodeName + "'");
    if (request.options.writable && node->readOnly)
        throw std::runtime_error("Cannot export read-only node as writable");
    {
        // Checked before the mountpoint is looked at: a stat of one of this process's own
        // mountpoints would be answered by that export (as in QEMU, by the path as given).
        std::lock_guard lock(mutex_);
        for (const Entry& e : exports_)
            if (e.info.mountpoint == request.options.mountpoint)
                throw std::runtime_error("There already is a FUSE export on '" +
                                         request.options.mountpoint + "'");
    }
    // Mounted without the lock: the export's thread serves requests from then on.
    FuseExportOptions options = request.options;
    options.discardUnmaps = node->discardUnmap;
    auto mount = std::make_unique<FuseExport>(node->image, options);
    Entry entry;
    entry.info.id = request.id;
    entry.info.nodeName = node->name;
    entry.info.mountpoint = request.options.mountpoint;
    entry.info.writable = request.options.writable;
    entry.info.growable = request.options.growable;
    entry.mount = std::move(mount);
    nodes_.setUser(node->name, userLabel(request.id), true);
    std::lock_guard lock(mutex_);
    exports_.push_back(std::move(entry));
}

void FuseExportTable::forget(Entry& entry) {
    entry.mount.reset();
    nodes_.setUser(entry.info.nodeName, userLabel(entry.info.id), false);
    std::vector<std::function<void(const std::string&)>> callbacks;
    {
        std::lock_guard lock(mutex_);
        for (const auto& l : listeners_)
            callbacks.push_back(l.second);
    }
    for (const auto& cb : callbacks)
        cb(entry.info.id);
}

bool FuseExportTable::remove(const std::string& id) {
    Entry gone;
    {
        std::lock_guard lock(mutex_);
        auto it = std::find_if(exports_.begin(), exports_.end(),
                               [&](const Entry& e) { return e.info.id == id; });
        if (it == exports_.end())
            return false;
        gone = std::move(*it);
        exports_.erase(it);
    }
    forget(gone);
    return true;
}

void FuseExportTable::removeAll() {
    std::vector<Entry> gone;
    {
        std::lock_guard lock(mutex_);
        gone = std::move(exports_);
        exports_.clear();
    }
    // In adding order, as QEMU reports them closed.
    for (Entry& e : gone)
        forget(e);
}

bool FuseExportTable::has(const std::string& id) const {
    std::lock_guard lock(mutex_);
    return std::any_of(exports_.begin(), exports_.end(),
                       [&](const Entry& e) { return e.info.id == id; });
}

std::vector<FuseExportInfo> FuseExportTable::list() const {
    std::lock_guard lock(mutex_);
    std::vector<FuseExportInfo> out;
    for (auto it = exports_.rbegin(); it != exports_.rend(); ++it)
        out.push_back(it->info);
    return out;
}

int FuseExportTable::addExportListener(std::function<void(const std::string&)> cb) {
    std::lock_guard lock(mutex_);
    int handle = nextListener_++;
    listeners_.emplace_back(handle, std::move(cb));
    return handle;
}

void FuseExportTable::removeExportListener(int handle) {
    std::lock_guard lock(mutex_);
    std::erase_if(listeners_, [handle](const auto& l) { return l.first == handle; });
}

} // namespace e2kvm::vm

#include "app/vmcore/NbdExportService.h"

#include "block/bitmap/BitmapCatalog.h"
#include "nbd/NbdError.h"

#include <algorithm>
#include <stdexcept>

namespace e2kvm::vm {

struct NbdExportService::Impl {
    explicit Impl(BlockNodeTable& n) : nodes(n) {}

    BlockNodeTable& nodes;
    mutable std::mutex mutex;
    std::unique_ptr<nbd::Server> server;
    NbdListenAddress address;
    bool tls = false;
    std::vector<NbdExportInfo> exports; // in adding order
    std::function<void(const std::string&)> onDeleted;
    std::vector<std::pair<int, std::function<void(const std::string&)>>> listeners;
    int nextListener = 1;

    // Everyone to tell about a deleted export (copied so they run without the lock).
    std::vector<std::function<void(const std::string&)>> deletionCallbacks() const {
        std::vector<std::function<void(const std::string&)>> out;
        if (onDeleted)
            out.push_back(onDeleted);
        for (const auto& l : listeners)
            out.push_back(l.second);
        return out;
    }

    static std::string userLabel(const NbdExportInfo& e) { return "export '" + e.id + "'"; }
};

NbdExportService::NbdExportService(BlockNodeTable& nodes) : impl_(std::make_unique<Impl>(nodes)) {}

NbdExportService::~NbdExportService() {
    // No callbacks into a dying owner.
    {
        std::lock_guard lock(impl_->mutex);
        impl_->onDeleted = nullptr;
        impl_->listeners.clear();
    }
    stop();
}

void NbdExportService::start(const NbdListenAddress& address, const nbd::TlsServerSettings& tls) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->server)
        throw std::runtime_error("NBD server already running");
    nbd::ServerOptions options;
    if (!tls.dir.empty()) {
        options.tlsMode = nbd::TlsMode::Required;
        options.tls = tls;
    }
    NbdListenAddress bound = address;
    std::unique_ptr<nbd::Server> server;
    try {
        server = std::make_unique<nbd::Server>(options);
        if (!address.unixPath.empty())
            server->listenUnix(address.unixPath);
        else
            bound.port = server->listenTcp(address.host, address.port);
        server->start();
    } catch (const nbd::NbdError& e) {
        throw std::runtime_error(e.what());
    }
    impl_->server = std::move(server);
    impl_->address = bound;
    impl_->tls = !tls.dir.empty();
}

void NbdExportService::stop() {
    std::unique_ptr<nbd::Server> server;
    std::vector<NbdExportInfo> gone;
    std::vector<std::function<void(const std::string&)>> callbacks;
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->server)
            return;
        server = std::move(impl_->server);
        gone = std::move(impl_->exports);
        impl_->exports.clear();
        callbacks = impl_->deletionCallbacks();
    }
    for (const NbdExportInfo& e : gone)
        server->removeExport(e.exportName, true);
    server->stop();
    server.reset();
    for (const NbdExportInfo& e : gone) {
        impl_->nodes.setUser(e.nodeName, Impl::userLabel(e), false);
        for (const auto& cb : callbacks)
            cb(e.id);
    }
}

bool NbdExportService::running() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->server != nullptr;
}

std::string NbdExportService::uriFor(const std::string& exportName) const {
    std::lock_guard lock(impl_->mutex);
    const NbdListenAddress& a = impl_->address;
    std::string scheme = impl_->tls ? "nbds" : "nbd";
    if (!a.unixPath.empty())
        return scheme + "+unix:///" + exportName + "?socket=" + a.unixPath;
    std::string host = a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
    return scheme + "://" + host + ":" + std::to_string(a.port) + "/" + exportName;
}

void NbdExportService::add(const NbdExportRequest& request) {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->server)
        throw std::runtime_error("NBD server not running");
    std::shared_ptr<BlockNode> node = impl_->nodes.find(request.nodeName);
    if (!node)
        throw std::runtime_error("Cannot find device='" + request.nodeName + "' nor node-name='" +
                                 request.nodeName + "'");
    NbdExportInfo info;
    info.exportName = request.exportName.empty() ? request.nodeName : request.exportName;
    info.id = request.id.empty() ? info.exportName : request.id;
    info.nodeName = node->name;
    info.description = request.description;
    info.writable = request.writable;
    info.allocationDepth = request.allocationDepth;
    info.bitmaps = request.bitmaps;
    if (info.exportName.size() > 4096)
        throw std::runtime_error("export name '" + info.exportName.substr(0, 64) + "...' too long");
    for (const NbdExportInfo& e : impl_->exports) {
        // QEMU checks the export id first (block-export-add), then the NBD name.
        if (e.id == info.id)
            throw std::runtime_error("Block export id '" + info.id + "' is already in use");
        if (e.exportName == info.exportName)
            throw std::runtime_error("NBD server already has export named '" + info.exportName +
                                     "'");
    }
    if (request.writable && node->readOnly)
        throw std::runtime_error("Cannot export node '" + node->name +
                                 "' writable: it is open read-only");

    nbd::ExportConfig config;
    config.name = info.exportName;
    config.description = request.description;
    config.image = node->image;
    config.readOnly = !request.writable;
    config.allocationDepth = request.allocationDepth;
    config.unmap = node->discardUnmap;
    config.detectZeroes = node->detectZeroes;
    config.minBlock = 1;
    for (size_t bi = 0; bi < request.bitmaps.size(); ++bi) {
        const std::string& name = request.bitmaps[bi];
        // As QEMU, the bitmap may belong to the node or to a node below it in its backing
        // chain (a fleecing overlay exports the running disk's bitmap), or to a node named
        // with it.
        block::BitmapCatalog* catalog = nullptr;
        std::optional<block::NamedBitmap> found;
        block::BlockDriver* first = node->image.get();
        bool chain = true;
        if (bi < request.bitmapNodes.size() && !request.bitmapNodes[bi].empty()) {
            auto holder = impl_->nodes.find(request.bitmapNodes[bi]);
            if (!holder)
                throw std::runtime_error("Cannot find device='" + request.bitmapNodes[bi] +
                                         "' nor node-name='" + request.bitmapNodes[bi] + "'");
            first = holder->image.get();
            chain = false;
        }
        for (block::BlockDriver* layer = first; layer && !found;
             layer = chain ? layer->backing() : nullptr) {
            catalog = layer->bitmaps();
            if (catalog)
                found = catalog->find(name);
        }
        if (!found)
            throw std::runtime_error("Bitmap '" + name + "' is not found");
        if (found->inconsistent)
            throw std::runtime_error(block::BitmapCatalog::inconsistentMessage(node->file, name));
        if (found->bitmap && found->bitmap->diskSize() != node->image->size())
            throw std::runtime_error("Bitmap '" + name +
                                     "' does not have the size of the exported node");
        // As QEMU 7.2 (iotest 223): only a bitmap of the exported node's own chain must be
        // frozen for a read-only export; one named on another node may keep recording.
        if (found->enabled && !request.writable && chain)
            throw std::runtime_error("Enabled bitmap '" + name +
                                     "' incompatible with readonly export");
        std::string owner = node->name;
        for (const auto& n : impl_->nodes.list())
            if (n->image->bitmaps() == catalog)
                owner = n->name;
        info.bitmapNodes.push_back(owner);
        try {
            config.bitmaps.push_back({name, catalog->usable(name)});
        } catch (const block::BlockError& e) {
            throw std::runtime_error(e.what());
        }
    }
    try {
        impl_->server->addExport(std::move(config));
    } catch (const nbd::NbdError& e) {
        throw std::runtime_error(e.what());
    }
    impl_->nodes.setUser(info.nodeName, Impl::userLabel(info), true);
    impl_->exports.push_back(std::move(info));
}

bool NbdExportService::remove(const std::string& exportName, bool hard) {
    NbdExportInfo gone;
    std::vector<std::function<void(const std::string&)>> callbacks;
    {
        std::lock_guard lock(impl_->mutex);
        auto it = std::find_if(impl_->exports.begin(), impl_->exports.end(),
                               [&](const NbdExportInfo& e) { return e.exportName == exportName; });
        if (it == impl_->exports.end())
            return false;
        gone = std::move(*it);
        impl_->exports.erase(it);
        if (impl_->server)
            impl_->server->removeExport(gone.exportName, hard);
        callbacks = impl_->deletionCallbacks();
    }
    impl_->nodes.setUser(gone.nodeName, Impl::userLabel(gone), false);
    for (const auto& cb : callbacks)
        cb(gone.id);
    return true;
}

bool NbdExportService::removeById(const std::string& id, bool hard) {
    std::string name;
    {
        std::lock_guard lock(impl_->mutex);
        for (const NbdExportInfo& e : impl_->exports)
            if (e.id == id)
                name = e.exportName;
    }
    return !name.empty() && remove(name, hard);
}

bool NbdExportService::hasExportId(const std::string& id) const {
    std::lock_guard lock(impl_->mutex);
    return std::any_of(impl_->exports.begin(), impl_->exports.end(),
                       [&](const NbdExportInfo& e) { return e.id == id; });
}

std::vector<NbdExportInfo> NbdExportService::list() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<NbdExportInfo> out = impl_->exports;
    unsigned clients = impl_->server ? impl_->server->connectionCount() : 0;
    for (NbdExportInfo& e : out)
        e.clients = clients;
    return out;
}

unsigned NbdExportService::connectedClients() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->server ? impl_->server->connectionCount() : 0;
}

NbdListenAddress NbdExportService::address() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->address;
}

std::vector<std::string> NbdExportService::exportsUsingBitmap(const std::string& nodeName,
                                                              const std::string& bitmap) const {
    std::lock_guard lock(impl_->mutex);
    std::vector<std::string> out;
    for (const NbdExportInfo& e : impl_->exports)
        for (size_t i = 0; i < e.bitmaps.size(); ++i)
            if (e.bitmaps[i] == bitmap &&
                (i < e.bitmapNodes.size() ? e.bitmapNodes[i] : e.nodeName) == nodeName) {
                out.push_back(e.id);
                break;
            }
    return out;
}

int NbdExportService::addExportListener(std::function<void(const std::string&)> cb) {
    std::lock_guard lock(impl_->mutex);
    int handle = impl_->nextListener++;
    impl_->listeners.emplace_back(handle, std::move(cb));
    return handle;
}

void NbdExportService::removeExportListener(int handle) {
    std::lock_guard lock(impl_->mutex);
    std::erase_if(impl_->listeners, [handle](const auto& l) { return l.first == handle; });
}

void NbdExportService::setOnExportDeleted(std::function<void(const std::string&)> cb) {
    std::lock_guard lock(impl_->mutex);
    impl_->onDeleted = std::move(cb);
}

} // namespace e2kvm::vm

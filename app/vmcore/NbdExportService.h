#pragma once
// NbdExportService: the one NBD server of a process (QMP nbd-server-start/-add/block-export-add
// and the GUI's one-click export both use it), serving nodes of a BlockNodeTable with chosen
// dirty bitmaps. Thread-safe; the server runs on its own threads.
#include "app/vmcore/BlockNodeTable.h"
#include "nbd/Server.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace e2kvm::vm {

struct NbdListenAddress {
    std::string unixPath;           // set for a Unix socket
    std::string host = "127.0.0.1"; // TCP otherwise
    uint16_t port = 10809;          // 0 = pick a free port
};

struct NbdExportRequest {
    std::string id;         // QMP block-export id; empty = export name
    std::string exportName; // empty = node name
    std::string nodeName;
    std::string description;
    bool writable = false;
    std::vector<std::string> bitmaps; // names of bitmaps of the node; must be consistent
    // Per bitmap (may be shorter): the node that holds it, as QMP's {node, name} form names
    // it; empty: the exported node or a node in its backing chain.
    std::vector<std::string> bitmapNodes;
    bool allocationDepth = false;
};

struct NbdExportInfo {
    std::string id, exportName, nodeName;
    std::string description;
    bool writable = false;
    bool allocationDepth = false;
    std::vector<std::string> bitmaps;
    std::vector<std::string> bitmapNodes; // the node each bitmap belongs to (the exported one
                                          // or one in its backing chain)
    unsigned clients = 0; // connected clients of the whole server (the server does not
                          // count per export)
};

class NbdExportService {
public:
    explicit NbdExportService(BlockNodeTable& nodes);
    ~NbdExportService(); // stops

    // Throws std::runtime_error if already running or the address cannot be bound.
    // tls.dir non-empty: TLS required, with QEMU's --tls-creds directory layout.
    void start(const NbdListenAddress& address, const nbd::TlsServerSettings& tls = {});
    void stop(); // removes every export (hard), then stops; no-op if not running
    bool running() const;
    // The URI a client uses for an export: nbd://127.0.0.1:10809/NAME or
    // nbd+unix:///NAME?socket=PATH (nbds:// with TLS).
    std::string uriFor(const std::string& exportName) const;

    // Throws std::runtime_error with QMP-ready wording ("Node 'x' not found", "Bitmap 'b' is
    // inconsistent …", "Server is not running", "Block export id 'e' is already in use").
    void add(const NbdExportRequest& request);
    bool remove(const std::string& exportName, bool hard = false);
    std::vector<NbdExportInfo> list() const;
    unsigned connectedClients() const;
    // The address being served (port resolved when 0 was asked for); meaningful while running.
    NbdListenAddress address() const;
    // Exports (by id) that publish bitmap `bitmap` of node `nodeName`: QMP reports such a
    // bitmap as busy and refuses to change it.
    std::vector<std::string> exportsUsingBitmap(const std::string& nodeName,
                                                const std::string& bitmap) const;
    // Whether export id `id` exists; remove by id (block-export-del).
    bool hasExportId(const std::string& id) const;
    bool removeById(const std::string& id, bool hard = false);

    // Called when an export goes away (QMP BLOCK_EXPORT_DELETED), on any thread.
    void setOnExportDeleted(std::function<void(const std::string& exportName)> cb);
    // More listeners besides that one (QMP's event and a GUI view can both listen): the
    // callback gets the export id. Returns a handle for removeExportListener.
    int addExportListener(std::function<void(const std::string& id)> cb);
    void removeExportListener(int handle);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace e2kvm::vm

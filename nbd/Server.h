#pragma once
// Server: an NBD server on its own thread and GMainContext. Listens on Unix sockets, TCP
// addresses and inherited (socket-activated) fds; serves any number of exports, which may be
// added and removed from any thread while clients are connected. Each client runs on its own
// thread, so a slow client never delays another.
#include "nbd/Export.h"
#include "nbd/ServerConnection.h"
#include "nbd/TlsTransport.h"

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

typedef struct _GMainContext GMainContext;
typedef struct _GMainLoop GMainLoop;
typedef struct _GSocketService GSocketService;
typedef struct _GSocketConnection GSocketConnection;

namespace e2kvm::nbd {

class TlsServerCredentials;

struct ServerOptions {
    TlsMode tlsMode = TlsMode::Off;
    TlsServerSettings tls;
    // Simultaneous clients allowed (0 = unlimited). CAN_MULTI_CONN is advertised iff != 1.
    unsigned maxConnections = 0;
    unsigned workersPerConnection = 4;
    std::function<void(const std::string&)> log; // verbose messages; may be empty
};

class Server {
public:
    explicit Server(ServerOptions options);
    ~Server(); // stops
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Exports (thread-safe). addExport throws NbdError if the name is taken.
    void addExport(ExportConfig config);
    // Returns false if there is no such export. hard: disconnect its clients now; otherwise
    // they keep working until they disconnect.
    bool removeExport(const std::string& name, bool hard = false);
    std::vector<std::string> exportNames() const;

    // Listening endpoints; call before start(). Throw NbdError. A Unix socket path that names
    // something already (a socket left by an earlier server) is replaced, as in QEMU.
    void listenUnix(const std::string& path);
    // Returns the bound port (useful with port 0).
    uint16_t listenTcp(const std::string& host, uint16_t port);
    void listenFd(int fd); // an already listening socket (systemd socket activation)

    void start();
    // Stops accepting, disconnects every client, waits for their threads. Idempotent.
    void stop();

    // Called (from a client thread) when the number of clients drops to zero as a client
    // that had entered the transmission phase leaves (qemu-nbd's exit rule without -t).
    void setOnIdle(std::function<void()> callback);
    unsigned connectionCount() const;
    unsigned totalConnections() const;

private:
    static int onIncoming(GSocketService*, GSocketConnection*, void*, void* self);
    void accept(GSocketConnection* conn);
    void serve(GSocketConnection* conn);
    void setAccepting(bool on);

    ServerOptions options_;
    std::unique_ptr<TlsServerCredentials> tls_;
    GMainContext* context_ = nullptr;
    GMainLoop* loop_ = nullptr;
    GSocketService* service_ = nullptr;
    std::thread thread_;
    std::vector<std::string> unixPaths_;
    bool started_ = false;
    bool stopped_ = false;

    mutable std::mutex mutex_;
    std::condition_variable connectionsDone_;
    std::map<std::string, std::shared_ptr<Export>> exports_;
    std::vector<std::string> exportOrder_;
    std::set<ServerConnection*> connections_;
    unsigned active_ = 0;
    unsigned total_ = 0;
    bool accepting_ = true;
    std::function<void()> onIdle_;
};

} // namespace e2kvm::nbd

#include "nbd/Server.h"

#include "nbd/NbdError.h"
#include "nbd/TlsTransport.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace e2kvm::nbd {

namespace {

[[noreturn]] void fail(GError* err, const std::string& what) {
    std::string m = what + ": " + (err ? err->message : "unknown error");
    if (err)
        g_error_free(err);
    throw NbdError(m);
}

} // namespace

Server::Server(ServerOptions options) : options_(std::move(options)) {
    if (options_.tlsMode != TlsMode::Off) {
        if (options_.tls.dir.empty())
            throw NbdError("TLS needs a credentials directory");
        tls_ = std::make_unique<TlsServerCredentials>(options_.tls);
    }
    context_ = g_main_context_new();
    loop_ = g_main_loop_new(context_, FALSE);
    service_ = G_SOCKET_SERVICE(g_object_new(G_TYPE_SOCKET_SERVICE, "active", FALSE, nullptr));
    // GIO listens with a backlog of 10: a burst of clients connecting at once would be refused
    // (EAGAIN on a Unix socket) before the accept loop drains the queue. Listen as nbdkit does.
    g_socket_listener_set_backlog(G_SOCKET_LISTENER(service_), SOMAXCONN);
    g_signal_connect(service_, "incoming", G_CALLBACK(&Server::onIncoming), this);
}

Server::~Server() {
    stop();
    g_object_unref(service_);
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
}

void Server::addExport(ExportConfig config) {
    auto exp = std::make_shared<Export>(std::move(config));
    std::lock_guard lock(mutex_);
    if (exports_.count(exp->name()))
        throw NbdError("export '" + exp->name() + "' already exists");
    exportOrder_.push_back(exp->name());
    exports_[exp->name()] = std::move(exp);
}

bool Server::removeExport(const std::string& name, bool hard) {
    std::lock_guard lock(mutex_);
    auto it = exports_.find(name);
    if (it == exports_.end())
        return false;
    auto exp = it->second;
    exports_.erase(it);
    exportOrder_.erase(std::find(exportOrder_.begin(), exportOrder_.end(), name));
    if (hard)
        for (ServerConnection* c : connections_)
            if (c->currentExport() == exp)
                c->shutdown();
    return true;
}

std::vector<std::string> Server::exportNames() const {
    std::lock_guard lock(mutex_);
    return exportOrder_;
}

void Server::listenUnix(const std::string& path) {
    // As qemu-nbd and QEMU's socket listeners: whatever the path names already (a socket an
    // earlier server left behind) is removed first.
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
        const int e = errno;
        throw NbdError("Failed to unlink socket " + path + ": " + std::strerror(e));
    }
    GSocketAddress* addr = g_unix_socket_address_new(path.c_str());
    GError* err = nullptr;
    gboolean ok =
        g_socket_listener_add_address(G_SOCKET_LISTENER(service_), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, nullptr, nullptr, &err);
    g_object_unref(addr);
    if (!ok)
        fail(err, "Failed to bind socket to " + path);
    unixPaths_.push_back(path);
}

uint16_t Server::listenTcp(const std::string& host, uint16_t port) {
    GError* err = nullptr;
    GList* addrs = nullptr;
    GInetAddress* ip = g_inet_address_new_from_string(host.c_str());
    if (ip) {
        addrs = g_list_append(addrs, ip);
    } else {
        GResolver* r = g_resolver_get_default();
        addrs = g_resolver_lookup_by_name(r, host.c_str(), nullptr, &err);
        g_object_unref(r);
        if (!addrs)
            fail(err, "cannot resolve " + host);
    }
    uint16_t bound = port;
    for (GList* l = addrs; l; l = l->next) {
        GSocketAddress* sa = g_inet_socket_address_new(G_INET_ADDRESS(l->data), bound);
        GSocketAddress* effective = nullptr;
        gboolean ok =
            g_socket_listener_add_address(G_SOCKET_LISTENER(service_), sa, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, nullptr, &effective, &err);
        g_object_unref(sa);
        if (!ok) {
            g_resolver_free_addresses(addrs);
            fail(err, "Failed to bind socket to " + host + ":" + std::to_string(port));
        }
        bound = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
        g_object_unref(effective);
        break; // the first address is enough (as qemu-nbd binds one)
    }
    g_resolver_free_addresses(addrs);
    return bound;
}

void Server::listenFd(int fd) {
    GError* err = nullptr;
    GSocket* s = g_socket_new_from_fd(fd, &err);
    if (!s)
        fail(err, "inherited socket " + std::to_string(fd));
    // An inherited socket already listens with its creator's backlog; listening again widens it.
    ::listen(fd, SOMAXCONN);
    gboolean ok = g_socket_listener_add_socket(G_SOCKET_LISTENER(service_), s, nullptr, &err);
    g_object_unref(s);
    if (!ok)
        fail(err, "inherited socket " + std::to_string(fd));
}

void Server::setOnIdle(std::function<void()> callback) {
    std::lock_guard lock(mutex_);
    onIdle_ = std::move(callback);
}

unsigned Server::connectionCount() const {
    std::lock_guard lock(mutex_);
    return active_;
}

unsigned Server::totalConnections() const {
    std::lock_guard lock(mutex_);
    return total_;
}

void Server::start() {
    if (started_)
        return;
    started_ = true;
    std::mutex m;
    std::condition_variable cv;
    bool running = false;
    thread_ = std::thread([&, this] {
        g_main_context_push_thread_default(context_);
        g_socket_service_start(service_);
        {
            std::lock_guard lock(m);
            running = true;
        }
        cv.notify_all();
        g_main_loop_run(loop_);
        g_socket_service_stop(service_);
        // Let the cancelled accept operation finish before closing the sockets under it.
        for (int i = 0; i < 100 && g_main_context_pending(context_); ++i)
            g_main_context_iteration(context_, FALSE);
        g_socket_listener_close(G_SOCKET_LISTENER(service_));
        g_main_context_pop_thread_default(context_);
    });
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return running; });
}

void Server::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    if (started_) {
        // Queued on the server's context, so it works even before the loop started running.
        g_main_context_invoke_full(
            context_, G_PRIORITY_HIGH,
            [](gpointer loop) -> gboolean {
                g_main_loop_quit(static_cast<GMainLoop*>(loop));
                return G_SOURCE_REMOVE;
            },
            loop_, nullptr);
        thread_.join();
    } else {
        g_socket_listener_close(G_SOCKET_LISTENER(service_));
    }
    std::unique_lock lock(mutex_);
    for (ServerConnection* c : connections_)
        c->shutdown();
    connectionsDone_.wait(lock, [this] { return active_ == 0; });
    lock.unlock();
    for (const auto& p : unixPaths_)
        unlink(p.c_str());
}

int Server::onIncoming(GSocketService*, GSocketConnection* conn, void*, void* self) {
    static_cast<Server*>(self)->accept(conn);
    return TRUE;
}

void Server::setAccepting(bool on) {
    // Runs on the server thread (GSocketService must be driven from its context).
    struct Call {
        Server* server;
        bool on;
    };
    g_main_context_invoke_full(
        context_, G_PRIORITY_DEFAULT,
        [](gpointer p) -> gboolean {
            auto* c = static_cast<Call*>(p);
            if (c->on)
                g_socket_service_start(c->server->service_);
            else
                g_socket_service_stop(c->server->service_);
            return G_SOURCE_REMOVE;
        },
        new Call{this, on}, [](gpointer p) { delete static_cast<Call*>(p); });
}

void Server::accept(GSocketConnection* conn) {
    std::unique_lock lock(mutex_);
    if (stopped_)
        return;
    ++active_;
    ++total_;
    if (options_.maxConnections && active_ >= options_.maxConnections && accepting_) {
        accepting_ = false;
        g_socket_service_stop(service_); // we are on the server thread here
    }
    lock.unlock();
    g_object_ref(conn);
    std::thread([this, conn] { serve(conn); }).detach();
}

void Server::serve(GSocketConnection* conn) {
    GSocket* sock = g_socket_connection_get_socket(conn);
    int fd = g_socket_get_fd(sock);
    if (g_socket_get_family(sock) != G_SOCKET_FAMILY_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    g_socket_set_blocking(sock, TRUE);

    ConnectionEnvironment env;
    env.findExport = [this](const std::string& name) -> std::shared_ptr<Export> {
        std::lock_guard lock(mutex_);
        auto it = exports_.find(name);
        return it == exports_.end() ? nullptr : it->second;
    };
    env.listExports = [this] {
        std::lock_guard lock(mutex_);
        std::vector<std::shared_ptr<Export>> out;
        for (const auto& n : exportOrder_)
            out.push_back(exports_.at(n));
        return out;
    };
    env.tlsMode = options_.tlsMode;
    if (tls_)
        env.startTls = [this, conn, fd] { return tls_->handshake(G_IO_STREAM(conn), fd); };
    env.multiConn = options_.maxConnections != 1;
    env.workers = options_.workersPerConnection;
    env.log = options_.log;

    bool negotiated = false;
    {
        ServerConnection connection(std::make_unique<SocketTransport>(fd, false), env);
        {
            std::lock_guard lock(mutex_);
            connections_.insert(&connection);
            if (stopped_)
                connection.shutdown();
        }
        connection.run();
        negotiated = connection.currentExport() != nullptr;
        std::lock_guard lock(mutex_);
        connections_.erase(&connection);
    }
    g_io_stream_close(G_IO_STREAM(conn), nullptr, nullptr);
    g_object_unref(conn);

    std::function<void()> idle;
    {
        std::lock_guard lock(mutex_);
        --active_;
        if (!accepting_ && !stopped_ &&
            (!options_.maxConnections || active_ < options_.maxConnections)) {
            accepting_ = true;
            setAccepting(true);
        }
        if (active_ == 0 && negotiated)
            idle = onIdle_;
        connectionsDone_.notify_all();
    }
    if (idle && !stopped_)
        idle();
}

} // namespace e2kvm::nbd

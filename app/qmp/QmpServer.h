#pragma once
// QmpServer: serves QMP on Unix sockets (and TCP) from its own thread to any number of
// clients, each with its own QmpSession; broadcasts the context's events to every client that
// finished capabilities negotiation. A context may have several servers (-qmp given more than
// once): each gets every event.
#include "app/qmp/QmpContext.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace e2kvm::qmp {

// A -qmp / --qmp address: "unix:PATH,server=on,wait=off" (QEMU's chardev shorthand), also
// "tcp:HOST:PORT,server=on,wait=off". Throws std::invalid_argument on anything else
// (wait=on is refused: the machine never waits for a client).
struct QmpListenAddress {
    std::string unixPath; // set for a Unix socket
    std::string host;     // TCP otherwise
    uint16_t port = 0;
};
QmpListenAddress parseQmpAddress(const std::string& spec);

class QmpServer {
public:
    explicit QmpServer(QmpContext& ctx);
    ~QmpServer(); // stop()
    QmpServer(const QmpServer&) = delete;
    QmpServer& operator=(const QmpServer&) = delete;

    // Binds now (throws std::runtime_error naming the address); call before start(). A Unix
    // path that exists as a socket is replaced. Returns the bound TCP port (0 for Unix).
    uint16_t listen(const QmpListenAddress& address);
    void start();
    // Serves one more client on file descriptors that are already open: -qmp stdio (0 and 1,
    // not closed by the server), or a socket this process connected (-chardev socket,path=P
    // without server=on: QEMU then connects to P and serves QMP over it). Before start().
    // With `pretty` (-qmp-pretty) every message is written as prettyJson() lays it out.
    void adopt(int inFd, int outFd, bool ownsFds, bool pretty = false);
    // The reply to quit waits until stop() (as QEMU's comes after what closing the images
    // prints): for an embedder that stops the server promptly once quit was called. Before
    // start().
    void holdQuitReply(bool hold) { holdQuitReply_ = hold; }
    // Connects to a Unix socket and serves QMP over the connection (the caller listens).
    void connect(const std::string& unixPath);
    // Sends what is still queued (best effort, bounded time), closes every client and the
    // listening sockets (removing Unix socket files). Idempotent; not from a command handler.
    void stop();
    unsigned clientCount() const;

private:
    struct Client;
    void run();
    void wake();
    void acceptClient(int listenFd);
    void distributeEvents();
    bool flushClient(Client& c); // false: drop the client

    QmpContext& ctx_;
    bool holdQuitReply_ = false;
    std::vector<int> listenFds_;
    std::vector<std::string> unixPaths_;
    int wakeFd_ = -1;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    bool started_ = false;
    std::vector<std::unique_ptr<Client>> clients_; // server thread only
    std::vector<std::unique_ptr<Client>> adopted_; // before start()
    std::atomic<unsigned> clientCount_{0};

    int eventSink_ = 0;
    std::mutex eventMutex_;
    std::vector<std::string> pendingEvents_;
};

} // namespace e2kvm::qmp

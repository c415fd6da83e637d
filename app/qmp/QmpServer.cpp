#include "app/qmp/QmpServer.h"

#include "app/qmp/QmpPretty.h"

#include "app/qmp/QmpSession.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace e2kvm::qmp {

namespace {

// A client that does not read its replies and events is dropped past this much output.
constexpr size_t kMaxPendingOutput = 16u << 20;
constexpr size_t kMaxClients = 64;

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

void setNonBlocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

} // namespace

QmpListenAddress parseQmpAddress(const std::string& spec) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (;;) {
        size_t comma = spec.find(',', start);
        parts.push_back(spec.substr(start, comma == std::string::npos ? comma : comma - start));
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    QmpListenAddress a;
    const std::string& head = parts[0];
    if (head.rfind("unix:", 0) == 0) {
        a.unixPath = head.substr(5);
        if (a.unixPath.empty())
            throw std::invalid_argument("'" + spec + "': empty socket path");
        if (a.unixPath.size() >= sizeof(sockaddr_un{}.sun_path))
            throw std::invalid_argument("'" + spec + "': socket path too long");
    } else if (head.rfind("tcp:", 0) == 0) {
        std::string hp = head.substr(4);
        size_t colon = hp.rfind(':');
        if (colon == std::string::npos)
            throw std::invalid_argument("'" + spec + "': expected tcp:HOST:PORT");
        a.host = hp.substr(0, colon);
        if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
            a.host = a.host.substr(1, a.host.size() - 2);
        if (a.host.empty())
            a.host = "127.0.0.1";
        std::string port = hp.substr(colon + 1);
        char* end = nullptr;
        unsigned long p = std::strtoul(port.c_str(), &end, 10);
        if (port.empty() || *end || p > 65535)
            throw std::invalid_argument("'" + spec + "': bad port '" + port + "'");
        a.port = uint16_t(p);
    } else {
        throw std::invalid_argument("'" + spec + "': expected unix:PATH or tcp:HOST:PORT");
    }
    for (size_t i = 1; i < parts.size(); ++i) {
        const std::string& o = parts[i];
        if (o == "server" || o == "server=on" || o == "nowait" || o == "wait=off")
            continue;
        if (o == "server=off")
            throw std::invalid_argument("'" + spec + "': only server=on is supported");
        if (o == "wait=on" || o == "wait")
            throw std::invalid_argument("'" + spec + "': wait=on is not supported");
        throw std::invalid_argument("'" + spec + "': unknown option '" + o + "'");
    }
    return a;
}

struct QmpServer::Client {
    Client(int f, QmpContext& ctx) : fd(f), outFd(f), session(ctx) {}
    ~Client() {
        if (ownsFds && fd >= 0)
            close(fd);
        if (ownsFds && outFd != fd && outFd >= 0)
            close(outFd);
    }
    int fd;    // read from
    int outFd; // written to (the same socket, or stdout for -qmp stdio)
    bool isSocket = true;
    bool ownsFds = true;
    QmpSession session;
    std::string out;
    bool closing = false; // peer closed or error: drop after flushing
    bool pretty = false;  // -qmp-pretty: each message spread over indented lines
    bool holding = false; // quit was answered: the output waits for the server's last words

    // Queues one message line (ending in "\n") in this client's layout.
    void send(const std::string& line) {
        if (!pretty) {
            out += line;
            return;
        }
        try {
            out += prettyJson(parseJson(line)) + "\n";
        } catch (const JsonError&) {
            out += line; // our own messages always parse; never lose one
        }
    }
};

QmpServer::QmpServer(QmpContext& ctx) : ctx_(ctx) {
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd_ < 0)
        throw std::runtime_error(errnoText("eventfd"));
}

QmpServer::~QmpServer() {
    stop();
    close(wakeFd_);
}

uint16_t QmpServer::listen(const QmpListenAddress& address) {
    if (started_)
        throw std::runtime_error("QMP server: listen() after start()");
    if (!address.unixPath.empty()) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            throw std::runtime_error(errnoText("socket"));
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        if (address.unixPath.size() >= sizeof sa.sun_path) {
            close(fd);
            throw std::runtime_error(address.unixPath + ": socket path too long");
        }
        std::memcpy(sa.sun_path, address.unixPath.data(), address.unixPath.size());
        struct stat st;
        if (lstat(address.unixPath.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(address.unixPath.c_str());
        if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
            ::listen(fd, SOMAXCONN) != 0) {
            std::string msg = errnoText(address.unixPath);
            close(fd);
            throw std::runtime_error("Failed to bind socket " + msg);
        }
        setNonBlocking(fd);
        listenFds_.push_back(fd);
        unixPaths_.push_back(address.unixPath);
        return 0;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string port = std::to_string(address.port);
    int rc = getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(),
                         &hints, &res);
    if (rc != 0)
        throw std::runtime_error(address.host + ": " + gai_strerror(rc));
    int fd = -1;
    std::string lastError = "no address";
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0)
            break;
        lastError = std::strerror(errno);
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        throw std::runtime_error("Failed to bind socket " + address.host + ":" + port + ": " +
                                 lastError);
    setNonBlocking(fd);
    listenFds_.push_back(fd);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET)
        return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return address.port;
}

void QmpServer::start() {
    if (started_)
        return;
    started_ = true;
    eventSink_ = ctx_.addEventSink([this](const std::string& event, const Json& data) {
        std::string line = QmpSession::eventLine(event, data);
        {
            std::lock_guard lock(eventMutex_);
            if (pendingEvents_.size() < 100000)
                pendingEvents_.push_back(std::move(line));
        }
        wake();
    });
    for (auto& c : adopted_) {
        c->send(c->session.greeting());
        clients_.push_back(std::move(c));
    }
    adopted_.clear();
    clientCount_ = unsigned(clients_.size());
    thread_ = std::thread([this] { run(); });
}

void QmpServer::wake() {
    uint64_t one = 1;
    ssize_t n = write(wakeFd_, &one, sizeof one);
    (void)n;
}

void QmpServer::stop() {
    if (started_ && !stopping_.exchange(true)) {
        ctx_.removeEventSink(eventSink_);
        wake();
        if (thread_.joinable())
            thread_.join();
    }
    for (int fd : listenFds_)
        close(fd);
    listenFds_.clear();
    for (const std::string& p : unixPaths_)
        unlink(p.c_str());
    unixPaths_.clear();
}

unsigned QmpServer::clientCount() const {
    return clientCount_.load();
}

void QmpServer::acceptClient(int listenFd) {
    for (;;) {
        int fd = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (clients_.size() >= kMaxClients) {
            close(fd);
            continue;
        }
        auto c = std::make_unique<Client>(fd, ctx_);
        c->send(c->session.greeting());
        flushClient(*c);
        clients_.push_back(std::move(c));
        clientCount_ = unsigned(clients_.size());
    }
}

void QmpServer::adopt(int inFd, int outFd, bool ownsFds, bool pretty) {
    if (started_)
        throw std::runtime_error("QMP server: adopt() after start()");
    setNonBlocking(inFd); // a separate output (stdout) stays blocking: it is flushed at once
    auto c = std::make_unique<Client>(inFd, ctx_);
    c->outFd = outFd;
    c->ownsFds = ownsFds;
    c->pretty = pretty;
    struct stat st {};
    c->isSocket = fstat(inFd, &st) == 0 && S_ISSOCK(st.st_mode) && inFd == outFd;
    adopted_.push_back(std::move(c));
}

void QmpServer::connect(const std::string& unixPath) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(errnoText("socket"));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (unixPath.size() >= sizeof sa.sun_path) {
        close(fd);
        throw std::runtime_error(unixPath + ": socket path too long");
    }
    std::memcpy(sa.sun_path, unixPath.data(), unixPath.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::string msg = errnoText(unixPath);
        close(fd);
        throw std::runtime_error("Failed to connect to " + msg);
    }
    adopt(fd, fd, true);
}

bool QmpServer::flushClient(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = c.isSocket ? send(c.outFd, c.out.data(), c.out.size(), MSG_NOSIGNAL)
                               : write(c.outFd, c.out.data(), c.out.size());
        if (n > 0) {
            c.out.erase(0, size_t(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return c.out.size() <= kMaxPendingOutput;
        if (n < 0 && errno == EINTR)
            continue;
        return false;
    }
    return true;
}

void QmpServer::distributeEvents() {
    std::vector<std::string> events;
    {
        std::lock_guard lock(eventMutex_);
        events.swap(pendingEvents_);
    }
    for (const std::string& e : events)
        for (auto& c : clients_)
            if (c->session.commandMode() && !c->closing)
                c->send(e);
}

void QmpServer::run() {
    char buf[65536];
    while (!stopping_) {
        // What is queued goes out before we wait (a greeting, events): a client's output keeps
        // its order with what the process prints meanwhile (qemu-io lines on stdout, as QEMU's).
        for (auto& c : clients_)
            if (!c->closing && !c->holding && !flushClient(*c))
                c->closing = true, c->out.clear();
        std::vector<pollfd> fds;
        fds.push_back({wakeFd_, POLLIN, 0});
        for (int fd : listenFds_)
            fds.push_back({fd, POLLIN, 0});
        size_t firstClient = fds.size();
        for (auto& c : clients_) {
            short ev = c->closing ? 0 : POLLIN;
            if (!c->out.empty() && !c->holding && c->outFd == c->fd)
                ev |= POLLOUT;
            fds.push_back({c->fd, ev, 0});
        }
        int rc = poll(fds.data(), fds.size(), 1000);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            uint64_t v;
            ssize_t n = read(wakeFd_, &v, sizeof v);
            (void)n;
        }
        distributeEvents();
        for (size_t i = 1; i < firstClient; ++i)
            if (fds[i].revents & POLLIN)
                acceptClient(fds[i].fd);
        for (size_t i = firstClient; i < fds.size(); ++i) {
            Client& c = *clients_[i - firstClient];
            if (!c.closing && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n =
                    c.isSocket ? recv(c.fd, buf, sizeof buf, 0) : read(c.fd, buf, sizeof buf);
                if (n > 0) {
                    // Events a command caused go out before its reply; as in QEMU, that includes
                    // the SHUTDOWN of a quit, which is carried out before its reply is sent.
                    c.session.feed(std::string_view(buf, size_t(n)),
                                   [this, &c](const std::string& line) {
                                       const bool quit = ctx_.takeQuitRequest();
                                       if (quit)
                                           ctx_.finishQuit([this] {
                                               distributeEvents();
                                               for (auto& other : clients_)
                                                   if (!other->closing && !flushClient(*other))
                                                       other->closing = true, other->out.clear();
                                           });
                                       distributeEvents();
                                       // Each reply as soon as it is made (the next
                                       // command's output must not overtake it); the reply
                                       // to quit perhaps only at stop() (holdQuitReply).
                                       if (!flushClient(c))
                                           c.closing = true, c.out.clear();
                                       c.send(line);
                                       if (quit && holdQuitReply_)
                                           c.holding = true;
                                       else if (!c.holding && !flushClient(c))
                                           c.closing = true, c.out.clear();
                                   });
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    // Input ended. A socket cannot take the rest any more; a separate output
                    // (stdout) still gets what is queued or held (the reply to quit).
                    c.closing = true;
                    if (c.outFd == c.fd)
                        c.out.clear();
                }
            }
        }
        distributeEvents();
        for (auto& c : clients_)
            if (!c->holding && !flushClient(*c))
                c->closing = true, c->out.clear();
        std::erase_if(clients_, [](const std::unique_ptr<Client>& c) {
            return c->closing && c->out.empty();
        });
        clientCount_ = unsigned(clients_.size());
    }
    // Last words: what is queued (the reply to quit, SHUTDOWN), for at most about a second.
    distributeEvents();
    for (auto& c : clients_) {
        for (int tries = 0; tries < 10 && !c->out.empty(); ++tries) {
            if (!flushClient(*c))
                break;
            if (!c->out.empty()) {
                pollfd p{c->outFd, POLLOUT, 0};
                poll(&p, 1, 100);
            }
        }
    }
    clients_.clear();
    clientCount_ = 0;
}

} // namespace e2kvm::qmp

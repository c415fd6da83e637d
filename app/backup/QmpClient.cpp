#include "app/backup/QmpClient.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace e2kvm::backup {

using json::Json;

namespace {

std::string socketPath(const std::string& address) {
    if (address.rfind("unix:", 0) == 0)
        return address.substr(5);
    return address;
}

bool hasMembers(const Json& data, const Json& match) {
    if (!match.isObject())
        return true;
    for (const auto& [key, value] : match.asObject()) {
        const Json* got = data.isObject() ? data.find(key) : nullptr;
        if (!got || !(*got == value))
            return false;
    }
    return true;
}

} // namespace

QmpClient::QmpClient(const std::string& address, std::chrono::milliseconds timeout)
    : address_(address), timeout_(timeout) {
    std::string path = socketPath(address);
    sockaddr_un sa{};
    if (path.empty() || path.size() >= sizeof(sa.sun_path))
        throw std::runtime_error("QMP socket '" + path + "': not a usable Unix socket path");
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::runtime_error("QMP socket: " + std::string(std::strerror(errno)));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        int e = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error("cannot connect to the QMP monitor at '" + path +
                                 "': " + std::strerror(e) +
                                 " (is the VM running with -qmp unix:" + path + ",server?)");
    }
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    Json greeting = readMessage(deadline);
    const Json* qmp = greeting.find("QMP");
    if (!qmp)
        throw std::runtime_error("'" + path + "' did not greet as a QMP monitor");
    if (const Json* v = qmp->find("version"); v && v->find("qemu")) {
        const Json& q = *v->find("qemu");
        auto part = [&](const char* k) {
            const Json* n = q.find(k);
            return n && n->isInteger() ? std::to_string(n->asInt()) : std::string("0");
        };
        version_ = part("major") + "." + part("minor") + "." + part("micro");
    }
    execute("qmp_capabilities");
}

QmpClient::~QmpClient() {
    if (fd_ >= 0)
        ::close(fd_);
}

void QmpClient::send(const Json& message) {
    std::string text = message.serialize() + "\n";
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw std::runtime_error("QMP monitor at '" + socketPath(address_) +
                                     "': " + std::strerror(errno));
        done += size_t(n);
    }
}

Json QmpClient::readMessage(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        size_t nl = inbuf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = inbuf_.substr(0, nl);
            inbuf_.erase(0, nl + 1);
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            try {
                return json::parseJson(line);
            } catch (const json::JsonError& e) {
                throw std::runtime_error("QMP monitor at '" + socketPath(address_) +
                                         "' sent malformed JSON: " + e.what());
            }
        }
        if (inbuf_.size() > (16u << 20))
            throw std::runtime_error("QMP monitor at '" + socketPath(address_) +
                                     "' sent a message over 16 MiB");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            throw std::runtime_error("QMP monitor at '" + socketPath(address_) +
                                     "' did not answer in time");
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, int(std::min<int64_t>(left.count(), 1000)));
        if (r < 0 && errno != EINTR)
            throw std::runtime_error(std::string("QMP poll: ") + std::strerror(errno));
        if (r <= 0)
            continue;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw std::runtime_error("QMP monitor at '" + socketPath(address_) +
                                     "' closed the connection (did the VM exit?)");
        inbuf_.append(buf, size_t(n));
    }
}

Json QmpClient::execute(const std::string& command, Json arguments) {
    std::string id = "e2kvm-backup-" + std::to_string(nextId_++);
    Json msg = Json::object({{"execute", command}});
    if (arguments.isObject() && arguments.size() > 0)
        msg.set("arguments", std::move(arguments));
    msg.set("id", id);
    send(msg);
    auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (;;) {
        Json m = readMessage(deadline);
        if (m.find("event")) {
            events_.push_back(std::move(m));
            continue;
        }
        const Json* mid = m.find("id");
        if (!mid || !mid->isString() || mid->asString() != id)
            continue; // a reply to someone else's command on a shared monitor cannot happen
        if (const Json* r = m.find("return"))
            return *r;
        const Json* err = m.find("error");
        std::string cls = "GenericError", desc = "failed";
        if (err) {
            if (const Json* c = err->find("class"); c && c->isString())
                cls = c->asString();
            if (const Json* d = err->find("desc"); d && d->isString())
                desc = d->asString();
        }
        throw QmpCommandError(command, cls, desc);
    }
}

Json QmpClient::waitEvent(const std::string& name, const Json& match,
                          std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto matches = [&](const Json& ev) {
        const Json* n = ev.find("event");
        if (!n || !n->isString() || n->asString() != name)
            return false;
        const Json* data = ev.find("data");
        return hasMembers(data ? *data : Json::object(), match);
    };
    for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (matches(*it)) {
            Json ev = std::move(*it);
            events_.erase(it);
            const Json* data = ev.find("data");
            return data ? *data : Json::object();
        }
    }
    for (;;) {
        Json m;
        try {
            m = readMessage(deadline);
        } catch (const std::runtime_error& e) {
            throw std::runtime_error("waiting for the " + name + " event: " + e.what());
        }
        if (!m.find("event"))
            continue;
        if (matches(m)) {
            const Json* data = m.find("data");
            return data ? *data : Json::object();
        }
        events_.push_back(std::move(m));
    }
}

} // namespace e2kvm::backup

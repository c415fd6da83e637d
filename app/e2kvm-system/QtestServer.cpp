#include "app/e2kvm-system/QtestServer.h"

#include "emu/machine/Machine.h"
#include "emu/machine/MachineRunner.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace e2kvm::sys {

namespace {

bool parseU64(const std::string& text, uint64_t& out) {
    if (text.empty() || text[0] == '-')
        return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(text.c_str(), &end, 0);
    if (errno || !end || *end)
        return false;
    out = v;
    return true;
}

bool parseI64(const std::string& text, int64_t& out) {
    if (text.empty())
        return false;
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 0);
    if (errno || !end || *end)
        return false;
    out = v;
    return true;
}

unsigned accessSize(char suffix) {
    switch (suffix) {
    case 'b':
        return 1;
    case 'w':
        return 2;
    case 'l':
        return 4;
    case 'q':
        return 8;
    default:
        return 0;
    }
}

} // namespace

QtestServer::QtestServer(const std::string& path, emu::MachineRunner& runner) : runner_(runner) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path))
        throw std::runtime_error("-qtest: socket path too long: '" + path + "'");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::runtime_error(std::string("-qtest: socket: ") + std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int e = errno;
        ::close(fd_);
        throw std::runtime_error("Failed to connect to '" + path + "': " + std::strerror(e));
    }
    thread_ = std::thread([this] { serve(); });
}

QtestServer::~QtestServer() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable())
        thread_.join();
    ::close(fd_);
}

void QtestServer::serve() {
    std::string buffer;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(fd_, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buffer.append(chunk, size_t(n));
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            std::string reply = answer(line) + "\n";
            for (size_t off = 0; off < reply.size();) {
                ssize_t w = ::send(fd_, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    return;
                off += size_t(w);
            }
        }
    }
}

std::string QtestServer::answer(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string w; in >> w;)
        words.push_back(w);
    if (words.empty())
        return "FAIL Unknown command ''";
    const std::string& cmd = words[0];
    auto arg = [&](size_t i) -> const std::string& {
        static const std::string none;
        return i < words.size() ? words[i] : none;
    };
    const std::string bad = "FAIL invalid arguments to '" + cmd + "'";

    if (cmd == "endianness")
        return "OK little"; // E2K is little-endian
    if (cmd == "clock_step" || cmd == "clock_set") {
        // No timers run without guest code, so a bare clock_step has no deadline to reach.
        int64_t ns = 0;
        if ((cmd == "clock_set" || words.size() > 1) && !parseI64(arg(1), ns))
            return bad;
        int64_t now = clock_.load();
        int64_t target = cmd == "clock_step" ? now + ns : ns;
        if (target > now)
            clock_.store(target);
        return "OK " + std::to_string(clock_.load());
    }
    bool isRead = cmd.size() == 5 && cmd.rfind("read", 0) == 0 && accessSize(cmd[4]);
    bool isWrite = cmd.size() == 6 && cmd.rfind("write", 0) == 0 && accessSize(cmd[5]);
    if (isRead || isWrite || cmd == "read" || cmd == "write" || cmd == "memset") {
        uint64_t addr = 0, a2 = 0;
        if (!parseU64(arg(1), addr))
            return bad;
        std::string reply = "OK";
        std::string data;
        if (cmd == "write") {
            // write ADDR LEN 0xHEX: the hex string holds LEN bytes (missing ones are zero).
            if (!parseU64(arg(2), a2) || arg(3).rfind("0x", 0) != 0)
                return bad;
            const std::string& hex = arg(3);
            data.assign(size_t(a2), '\0');
            for (size_t i = 0; i < a2 && 2 + 2 * i + 1 < hex.size(); ++i) {
                unsigned byte = 0;
                if (std::sscanf(hex.c_str() + 2 + 2 * i, "%2x", &byte) != 1)
                    return bad;
                data[i] = char(byte);
            }
        } else if (isWrite || cmd == "read" || cmd == "memset") {
            if (!parseU64(arg(2), a2))
                return bad;
        }
        uint64_t memsetByte = 0;
        if (cmd == "memset" && !parseU64(arg(3), memsetByte))
            return bad;
        try {
            runner_.runOnMachine([&](emu::Machine& m) {
                emu::GuestMemory& mem = m.memory();
                if (isRead) {
                    char v[32];
                    std::snprintf(v, sizeof(v), " 0x%016" PRIx64,
                                  mem.load(addr, accessSize(cmd[4])));
                    reply += v;
                } else if (isWrite) {
                    mem.store(addr, accessSize(cmd[5]), a2);
                } else if (cmd == "read") {
                    std::string bytes(size_t(a2), '\0');
                    mem.read(addr, bytes.data(), a2);
                    reply += " 0x";
                    for (unsigned char c : bytes) {
                        char h[3];
                        std::snprintf(h, sizeof(h), "%02x", c);
                        reply += h;
                    }
                } else if (cmd == "write") {
                    mem.write(addr, data.data(), data.size());
                } else {
                    mem.fill(addr, uint8_t(memsetByte), a2);
                }
            });
        } catch (const std::exception& e) {
            return std::string("FAIL ") + e.what();
        }
        return reply;
    }
    return "FAIL Unknown command '" + cmd + "'";
}

} // namespace e2kvm::sys

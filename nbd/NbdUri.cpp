#include "nbd/NbdUri.h"

#include "nbd/NbdError.h"

#include <cstdlib>

namespace e2kvm::nbd {

namespace {

std::string percentDecode(const std::string& s, const std::string& uri) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        auto hex = [&](char c) -> int {
            if (c >= '0' && c <= '9')
                return c - '0';
            if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
            if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
            return -1;
        };
        if (i + 2 >= s.size())
            throw NbdError(uri + ": bad percent escape");
        int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0)
            throw NbdError(uri + ": bad percent escape");
        out += char(hi * 16 + lo);
        i += 2;
    }
    return out;
}

} // namespace

bool isNbdUri(const std::string& name) {
    for (const char* p : {"nbd://", "nbds://", "nbd+unix://", "nbds+unix://"})
        if (name.rfind(p, 0) == 0)
            return true;
    return false;
}

NbdUri parseNbdUri(const std::string& uri) {
    NbdUri u;
    auto sep = uri.find("://");
    if (sep == std::string::npos)
        throw NbdError(uri + ": not an NBD URI");
    std::string scheme = uri.substr(0, sep);
    bool unixSocket;
    if (scheme == "nbd" || scheme == "nbds")
        unixSocket = false;
    else if (scheme == "nbd+unix" || scheme == "nbds+unix")
        unixSocket = true;
    else
        throw NbdError(uri + ": unsupported URI scheme '" + scheme + "'");
    u.tls = scheme[3] == 's';
    std::string rest = uri.substr(sep + 3);
    std::string query;
    auto q = rest.find('?');
    if (q != std::string::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    if (!path.empty())
        u.exportName = percentDecode(path.substr(1), uri);
    if (unixSocket) {
        if (!authority.empty())
            throw NbdError(uri + ": nbd+unix URIs must not name a host");
    } else {
        std::string host = authority;
        if (!host.empty() && host[0] == '[') {
            auto close = host.find(']');
            if (close == std::string::npos)
                throw NbdError(uri + ": unterminated IPv6 address");
            u.host = host.substr(1, close - 1);
            host = host.substr(close + 1);
            if (!host.empty() && host[0] != ':')
                throw NbdError(uri + ": junk after IPv6 address");
        } else {
            auto colon = host.rfind(':');
            u.host = host.substr(0, colon);
            host = colon == std::string::npos ? "" : host.substr(colon);
        }
        if (!host.empty()) {
            std::string port = host.substr(1);
            char* end = nullptr;
            long p = std::strtol(port.c_str(), &end, 10);
            if (port.empty() || *end || p <= 0 || p > 65535)
                throw NbdError(uri + ": invalid port '" + port + "'");
            u.port = uint16_t(p);
        }
        if (u.host.empty())
            u.host = "localhost";
    }
    size_t pos = 0;
    while (pos < query.size()) {
        auto amp = query.find('&', pos);
        std::string kv =
            query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        pos = amp == std::string::npos ? query.size() : amp + 1;
        auto eq = kv.find('=');
        std::string key = kv.substr(0, eq);
        std::string value = eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1), uri);
        if (key == "socket")
            u.socketPath = value;
        else if (key == "tls-certificates")
            u.tlsCertificates = value;
        // other libnbd parameters (tls-psk-file, tls-username) are not supported: ignored
    }
    if (unixSocket && u.socketPath.empty())
        throw NbdError(uri + ": nbd+unix URIs need ?socket=PATH");
    return u;
}

} // namespace e2kvm::nbd

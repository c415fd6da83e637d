#include "nbd/NbdUri.h"
#include "block/HexDigit.h"

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
        if (i + 2 >= s.size())
            throw NbdError(uri + ": bad percent escape");
        int hi = block::hexDigitValue(s[i + 1]), lo = block::hexDigitValue(s[i + 2]);
        if (hi < 0 || lo < 0)
            throw NbdError(uri + ": bad percent escape");
        out += char(hi * 16 + lo);
        i += 2;
    }
    return out;
}

uint16_t parsePort(const std::string& port, const std::string& uri) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p <= 0 || p > 65535)
        throw NbdError(uri + ": invalid port '" + port + "'");
    return uint16_t(p);
}

// nbd:unix:PATH[:exportname=NAME] or nbd:HOST:PORT[:exportname=NAME] ([V6ADDR] for IPv6).
NbdUri parseLegacyName(const std::string& name) {
    NbdUri u;
    std::string rest = name.substr(4);
    const std::string kExport = ":exportname=";
    if (auto e = rest.find(kExport); e != std::string::npos) {
        u.exportName = rest.substr(e + kExport.size());
        rest = rest.substr(0, e);
    }
    if (rest.rfind("unix:", 0) == 0) {
        u.socketPath = rest.substr(5);
        if (u.socketPath.empty())
            throw NbdError(name + ": no socket path");
        return u;
    }
    std::string port;
    if (!rest.empty() && rest[0] == '[') {
        auto close = rest.find(']');
        if (close == std::string::npos || (close + 1 < rest.size() && rest[close + 1] != ':'))
            throw NbdError(name + ": bad IPv6 address");
        u.host = rest.substr(1, close - 1);
        port = close + 1 < rest.size() ? rest.substr(close + 2) : "";
    } else {
        auto colon = rest.find(':');
        u.host = rest.substr(0, colon);
        port = colon == std::string::npos ? "" : rest.substr(colon + 1);
    }
    if (u.host.empty())
        throw NbdError(name + ": no host name");
    if (!port.empty())
        u.port = parsePort(port, name);
    return u;
}

} // namespace

std::string canonicalNbdName(const NbdUri& uri) {
    const std::string scheme = uri.tls ? "nbds" : "nbd";
    if (!uri.socketPath.empty()) {
        return scheme + "+unix://" + (uri.exportName.empty() ? "" : "/" + uri.exportName) +
               "?socket=" + uri.socketPath;
    }
    std::string host = uri.host.find(':') != std::string::npos ? "[" + uri.host + "]" : uri.host;
    std::string name = scheme + "://" + host;
    if (uri.port != 10809)
        name += ":" + std::to_string(uri.port);
    if (!uri.exportName.empty())
        name += "/" + uri.exportName;
    return name;
}

bool isNbdUri(const std::string& name) {
    for (const char* p :
         {"nbd:", "nbds://", "nbd+unix://", "nbds+unix://", "nbd+tcp://", "nbds+tcp://"})
        if (name.rfind(p, 0) == 0)
            return true;
    return false;
}

NbdUri parseNbdUri(const std::string& uri) {
    NbdUri u;
    auto sep = uri.find("://");
    if (sep == std::string::npos && uri.rfind("nbd:", 0) == 0)
        return parseLegacyName(uri);
    if (sep == std::string::npos)
        throw NbdError(uri + ": not an NBD URI");
    std::string scheme = uri.substr(0, sep);
    bool unixSocket;
    if (scheme == "nbd" || scheme == "nbds" || scheme == "nbd+tcp" || scheme == "nbds+tcp")
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
            u.port = parsePort(host.substr(1), uri);
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

NbdUri nbdTargetFromOptions(const std::map<std::string, std::string>& options,
                            std::string* dirtyBitmap) {
    auto value = [&](const std::string& key) -> std::string {
        for (const std::string& k : {"server." + key, key})
            if (auto it = options.find(k); it != options.end())
                return it->second;
        return "";
    };
    if (auto it = options.find("x-dirty-bitmap"); it != options.end() && dirtyBitmap)
        *dirtyBitmap = it->second;
    NbdUri u;
    if (auto it = options.find("filename"); it != options.end())
        u = parseNbdUri(it->second);
    std::string type = value("type");
    if (type.empty())
        type = !value("path").empty() ? "unix" : !value("host").empty() ? "inet" : "";
    if (type == "unix") {
        u.socketPath = value("path");
        if (u.socketPath.empty())
            throw NbdError("Parameter 'server.path' is missing");
    } else if (type == "inet") {
        u.host = value("host");
        if (u.host.empty())
            throw NbdError("Parameter 'server.host' is missing");
        if (std::string port = value("port"); !port.empty())
            u.port = parsePort(port, "server.port");
    } else if (!type.empty()) {
        throw NbdError("Parameter 'server.type' does not accept value '" + type + "'");
    } else if (options.find("filename") == options.end()) {
        throw NbdError("Parameter 'server' is missing");
    }
    if (auto it = options.find("export"); it != options.end())
        u.exportName = it->second;
    return u;
}

} // namespace e2kvm::nbd

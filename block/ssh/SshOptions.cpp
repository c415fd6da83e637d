#include "block/ssh/SshOptions.h"

#include "block/BlockError.h"
#include "block/HexDigit.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace e2kvm::block::ssh {

namespace {

std::string valueOr(const DriverOptions& options, const std::string& key,
                    const std::string& fallback = "") {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
}

// QEMU's number options accept what strtoull with base 0 accepts, whole and non-negative.
bool isNumberOption(const std::string& text) {
    if (text.empty() || text[0] == '-' || std::isspace(static_cast<unsigned char>(text[0])))
        return false;
    errno = 0;
    char* end = nullptr;
    std::strtoull(text.c_str(), &end, 0);
    return errno == 0 && end && *end == '\0';
}

// The older host_key_check spelling: "no", "yes", or "md5:", "sha1:", "sha256:" and a hash.
void applyLegacyHostKeyCheck(const std::string& setting, SshTarget& target) {
    target.legacyHostKeyCheck = setting;
    if (setting == "no") {
        target.hostKeyCheck = HostKeyCheckMode::None;
        return;
    }
    if (setting == "yes") {
        target.hostKeyCheck = HostKeyCheckMode::KnownHosts;
        return;
    }
    for (const char* type : {"md5", "sha1", "sha256"}) {
        const std::string prefix = std::string(type) + ":";
        if (setting.compare(0, prefix.size(), prefix) == 0) {
            target.hostKeyCheck = HostKeyCheckMode::Hash;
            target.hashType = type;
            target.hash = setting.substr(prefix.size());
            return;
        }
    }
    throw BlockError(EINVAL, "unknown host_key_check setting (" + setting + ")");
}

void applyHostKeyCheck(const DriverOptions& options, SshTarget& target) {
    if (!options.count("host-key-check.mode"))
        return;
    const std::string mode = options.at("host-key-check.mode");
    if (mode == "none") {
        target.hostKeyCheck = HostKeyCheckMode::None;
    } else if (mode == "known_hosts") {
        target.hostKeyCheck = HostKeyCheckMode::KnownHosts;
    } else if (mode == "hash") {
        target.hostKeyCheck = HostKeyCheckMode::Hash;
        if (!options.count("host-key-check.type"))
            throw BlockError(EINVAL, "Parameter 'host-key-check.type' is missing");
        target.hashType = options.at("host-key-check.type");
        if (target.hashType != "md5" && target.hashType != "sha1" && target.hashType != "sha256")
            throw BlockError(EINVAL, "Parameter 'host-key-check.type' does not accept value '" +
                                         target.hashType + "'");
        if (!options.count("host-key-check.hash"))
            throw BlockError(EINVAL, "Parameter 'host-key-check.hash' is missing");
        target.hash = options.at("host-key-check.hash");
    } else {
        throw BlockError(EINVAL,
                         "Parameter 'host-key-check.mode' does not accept value '" + mode + "'");
    }
}

// %XX escapes of a URL part decoded.
std::string percentDecoded(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hexDigitValue(text[i + 1]) >= 0 &&
            hexDigitValue(text[i + 2]) >= 0) {
            out += static_cast<char>(hexDigitValue(text[i + 1]) * 16 + hexDigitValue(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

} // namespace

SshTarget sshTargetFromOptions(const DriverOptions& options) {
    SshTarget target;
    const bool legacyHost = options.count("host") != 0;
    const bool legacyPort = options.count("port") != 0;
    // The older options first, as QEMU translates them before it reads the others.
    if (legacyPort && !isNumberOption(options.at("port")))
        throw BlockError(EINVAL, "Parameter 'port' expects a number");
    if (legacyPort && !legacyHost)
        throw BlockError(EINVAL, "port may not be used without host");
    if (options.count("host_key_check"))
        applyLegacyHostKeyCheck(options.at("host_key_check"), target);
    if (legacyHost) {
        target.host = options.at("host");
        target.port = legacyPort ? options.at("port") : "22";
    } else {
        if (!options.count("server.host")) {
            bool anyServer = false;
            for (const auto& [key, value] : options)
                anyServer = anyServer || key.rfind("server.", 0) == 0;
            throw BlockError(EINVAL, anyServer ? "Parameter 'server.host' is missing"
                                               : "Parameter 'server' is missing");
        }
        if (!options.count("server.port"))
            throw BlockError(EINVAL, "Parameter 'server.port' is missing");
        target.host = options.at("server.host");
        target.port = options.at("server.port");
    }
    if (!options.count("path"))
        throw BlockError(EINVAL, "Parameter 'path' is missing");
    target.path = options.at("path");
    target.user = valueOr(options, "user");
    if (target.legacyHostKeyCheck.empty())
        applyHostKeyCheck(options, target);
    return target;
}

SshTarget sshTargetFromUrl(const std::string& url) {
    if (!isSshUrl(url))
        throw BlockError(EINVAL, "URI scheme must be 'ssh'");
    std::string rest = url.substr(std::string_view("ssh://").size());
    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest.resize(q);
    }
    const auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    SshTarget target;
    target.path = slash == std::string::npos ? "" : percentDecoded(rest.substr(slash));
    if (auto at = authority.rfind('@'); at != std::string::npos) {
        target.user = percentDecoded(authority.substr(0, at));
        authority.erase(0, at + 1);
    }
    std::string port;
    if (!authority.empty() && authority[0] == '[') { // [IPv6 address]
        const auto close = authority.find(']');
        if (close == std::string::npos)
            throw BlockError(EINVAL, "Invalid argument");
        target.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':')
            port = authority.substr(close + 2);
    } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
        target.host = percentDecoded(authority.substr(0, colon));
        port = authority.substr(colon + 1);
    } else {
        target.host = percentDecoded(authority);
    }
    if (target.host.empty())
        throw BlockError(EINVAL, "missing hostname in URI");
    if (target.path.empty())
        throw BlockError(EINVAL, "missing remote path in URI");
    // A port of 0 or none at all means the ssh port.
    target.port = port.empty() || std::strtoul(port.c_str(), nullptr, 10) == 0
                      ? "22"
                      : std::to_string(std::strtoul(port.c_str(), nullptr, 10));
    size_t start = 0;
    while (start <= query.size() && !query.empty()) {
        const auto amp = query.find('&', start);
        const std::string param =
            query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        const auto eq = param.find('=');
        if (eq != std::string::npos && param.substr(0, eq) == "host_key_check")
            applyLegacyHostKeyCheck(percentDecoded(param.substr(eq + 1)), target);
        if (amp == std::string::npos)
            break;
        start = amp + 1;
    }
    return target;
}

std::string sshImageName(const SshTarget& target, const std::string& user) {
    std::string name = "ssh://" + user + "@" + target.host + ":" + target.port + target.path;
    if (!target.legacyHostKeyCheck.empty())
        name += "?host_key_check=" + target.legacyHostKeyCheck;
    return name;
}

} // namespace e2kvm::block::ssh

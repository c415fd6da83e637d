#pragma once
// SshOptions: what QEMU's ssh block driver is told to open — the server, the remote path, the
// user and how the server's host key is checked — taken from driver options (json:{...},
// --image-opts, both QEMU's current names such as server.host and its older ones such as host,
// port and host_key_check) or from an ssh://[USER@]HOST[:PORT]/PATH[?host_key_check=...] URL.
// Errors are BlockError(EINVAL) with QEMU's words.
#include "block/ImageOptions.h"

#include <string>

namespace e2kvm::block::ssh {

enum class HostKeyCheckMode { KnownHosts, None, Hash };

struct SshTarget {
    std::string host;
    std::string port = "22"; // as given: QEMU checks it is a number only when connecting
    std::string path;
    std::string user; // empty: the user running the program
    HostKeyCheckMode hostKeyCheck = HostKeyCheckMode::KnownHosts;
    std::string hashType; // "md5", "sha1" or "sha256" (HostKeyCheckMode::Hash)
    std::string hash;     // hexadecimal digits, ':' between them allowed
    // The older host_key_check option as given (a URL's query carries it): it is part of the
    // name QEMU gives the image.
    std::string legacyHostKeyCheck;
};

// The target the options of a driver=ssh node describe (the "driver" key itself is ignored).
SshTarget sshTargetFromOptions(const DriverOptions& options);

// Whether an image name is an ssh URL ("ssh://[USER@]HOST[:PORT]/PATH[?...]").
inline bool isSshUrl(const std::string& name) {
    return name.rfind("ssh://", 0) == 0;
}

// The target an ssh:// URL names; the port defaults to 22 and only the host_key_check query
// parameter is looked at, as in QEMU.
SshTarget sshTargetFromUrl(const std::string& url);

// The name QEMU gives the opened image: ssh://USER@HOST:PORT/PATH[?host_key_check=...].
std::string sshImageName(const SshTarget& target, const std::string& user);

} // namespace e2kvm::block::ssh

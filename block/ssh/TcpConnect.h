#pragma once
// TcpConnect: a TCP connection to host:port opened the way QEMU's socket helpers open one for
// its network block drivers, with their error words ("Failed to connect to 'HOST:PORT': ...",
// "address resolution failed for HOST:PORT: ...").
#include <string>

namespace e2kvm::block::ssh {

// A connected, blocking TCP socket (close-on-exec). Tries every address the name resolves to
// and reports the last failure. Throws BlockError(EIO).
int connectTcp(const std::string& host, const std::string& port);

} // namespace e2kvm::block::ssh

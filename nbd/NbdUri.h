#pragma once
// NbdUri: an NBD URI as libnbd parses it: nbd://HOST[:PORT][/EXPORT] (or nbd+tcp://, as
// QEMU also takes), nbds://... (TLS),
// nbd+unix:///EXPORT?socket=PATH, nbds+unix://...; query tls-certificates=DIR for TLS. Also
// QEMU's legacy names nbd:unix:PATH[:exportname=NAME] and nbd:HOST:PORT[:exportname=NAME].
#include <cstdint>
#include <map>
#include <string>

namespace e2kvm::nbd {

struct NbdUri {
    bool tls = false;
    std::string host;       // TCP
    uint16_t port = 10809;  // TCP
    std::string socketPath; // Unix
    std::string exportName;
    std::string tlsCertificates; // directory with ca-cert.pem [client-cert.pem client-key.pem]
};

// Throws NbdError on anything that is not a valid NBD URI or legacy NBD name.
NbdUri parseNbdUri(const std::string& uri);
// Whether `name` looks like an NBD URI or legacy name (starts with nbd: / nbds: / nbd+unix: /
// nbds+unix:).
bool isNbdUri(const std::string& name);
// The name QEMU gives an NBD node (as info and map print it): nbd+unix:///EXPORT?socket=PATH,
// nbd+unix://?socket=PATH without an export, nbd://HOST[:PORT][/EXPORT] (no port when it is
// the default one).
std::string canonicalNbdName(const NbdUri& uri);
// The server and export of QEMU's driver=nbd options: server.type=unix|inet with server.path,
// or server.host and server.port (also without "server.", QEMU's older spelling), export=NAME,
// or filename=URI. Stores x-dirty-bitmap in *dirtyBitmap. Throws NbdError.
NbdUri nbdTargetFromOptions(const std::map<std::string, std::string>& options,
                            std::string* dirtyBitmap);

} // namespace e2kvm::nbd

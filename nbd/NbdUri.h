#pragma once
// NbdUri: an NBD URI as libnbd parses it: nbd://HOST[:PORT][/EXPORT], nbds://... (TLS),
// nbd+unix:///EXPORT?socket=PATH, nbds+unix://...; query tls-certificates=DIR for TLS.
#include <cstdint>
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

// Throws NbdError on anything that is not a valid NBD URI.
NbdUri parseNbdUri(const std::string& uri);
// Whether `name` looks like an NBD URI (starts with nbd: / nbds: / nbd+unix: / nbds+unix:).
bool isNbdUri(const std::string& name);

} // namespace e2kvm::nbd

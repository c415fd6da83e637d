#pragma once
// TLS for NBD over GIO: the server credentials of a QEMU-style --tls-creds directory
// (ca-cert.pem, server-cert.pem, server-key.pem), server- and client-side handshakes, and a
// Transport over the resulting TLS stream.
#include "nbd/Transport.h"

#include <memory>
#include <optional>
#include <string>

typedef struct _GIOStream GIOStream;
typedef struct _GTlsCertificate GTlsCertificate;
typedef struct _GTlsDatabase GTlsDatabase;
typedef struct _GCancellable GCancellable;

namespace e2kvm::nbd {

// Transport over a GTlsConnection (keeps a reference to it and to the base stream).
class TlsTransport final : public Transport {
public:
    TlsTransport(GIOStream* tls, int socketFd); // takes a reference on tls
    ~TlsTransport() override;
    void readExact(void* buf, size_t len) override;
    void writeAll(const iovec* iov, int count) override;
    void shutdown() override;

private:
    GIOStream* tls_;
    int socketFd_;
    GCancellable* cancel_;
};

// How a server does TLS, as QEMU's tls-creds-x509 (server endpoint) and authz-simple objects
// say it: the credentials directory (ca-cert.pem, server-cert.pem, server-key.pem), whether a
// client must present a certificate signed by that CA, and, if set, the one client
// distinguished name let in ("C=AQ,O=Example\\, Inc.,CN=client1": the certificate's RDNs in
// their order, as GnuTLS prints them, which is what QEMU compares).
struct TlsServerSettings {
    std::string dir;
    bool verifyPeer = false;
    std::optional<std::string> allowedClientDn;
};

// Credentials loaded from a directory, shared by all connections of a server.
class TlsServerCredentials {
public:
    explicit TlsServerCredentials(const TlsServerSettings& settings);
    ~TlsServerCredentials();
    TlsServerCredentials(const TlsServerCredentials&) = delete;
    TlsServerCredentials& operator=(const TlsServerCredentials&) = delete;
    // Runs the server handshake over `base` (a connected socket stream); throws NbdError.
    std::unique_ptr<Transport> handshake(GIOStream* base, int socketFd) const;

private:
    GTlsCertificate* cert_ = nullptr;
    GTlsDatabase* ca_ = nullptr;
    bool verifyPeer_;
    std::optional<std::string> allowedClientDn_;
};

// The distinguished name of a certificate as TlsServerSettings::allowedClientDn is written.
std::string certificateDn(GTlsCertificate* cert);

// Client side: verifies the server against dir/ca-cert.pem (and presents
// dir/client-cert.pem + client-key.pem when present). `hostname` for identity checks; empty
// skips the name check (Unix sockets).
std::unique_ptr<Transport> tlsClientHandshake(GIOStream* base, int socketFd, const std::string& dir,
                                              const std::string& hostname);

} // namespace e2kvm::nbd

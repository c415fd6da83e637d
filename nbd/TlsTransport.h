#pragma once
// TLS for NBD over GIO: the server credentials of a QEMU-style --tls-creds directory
// (ca-cert.pem, server-cert.pem, server-key.pem), server- and client-side handshakes, and a
// Transport over the resulting TLS stream.
#include "nbd/Transport.h"

#include <memory>
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

// Credentials loaded from a directory, shared by all connections of a server.
class TlsServerCredentials {
public:
    // verifyPeer: require a client certificate signed by ca-cert.pem.
    TlsServerCredentials(const std::string& dir, bool verifyPeer);
    ~TlsServerCredentials();
    TlsServerCredentials(const TlsServerCredentials&) = delete;
    TlsServerCredentials& operator=(const TlsServerCredentials&) = delete;
    // Runs the server handshake over `base` (a connected socket stream); throws NbdError.
    std::unique_ptr<Transport> handshake(GIOStream* base, int socketFd) const;

private:
    GTlsCertificate* cert_ = nullptr;
    GTlsDatabase* ca_ = nullptr;
    bool verifyPeer_;
};

// Client side: verifies the server against dir/ca-cert.pem (and presents
// dir/client-cert.pem + client-key.pem when present). `hostname` for identity checks; empty
// skips the name check (Unix sockets).
std::unique_ptr<Transport> tlsClientHandshake(GIOStream* base, int socketFd, const std::string& dir,
                                              const std::string& hostname);

} // namespace e2kvm::nbd

#include "nbd/TlsTransport.h"

#include "nbd/NbdError.h"

#include <gio/gio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace e2kvm::nbd {

namespace {

std::string takeError(GError* err, const std::string& what) {
    std::string m = what + ": " + (err ? err->message : "unknown error");
    if (err)
        g_error_free(err);
    return m;
}

bool fileExists(const std::string& p) {
    return access(p.c_str(), R_OK) == 0;
}

// GIO reports client certificates it could not verify by itself here; accept exactly those
// whose chain verifies against our CA for client authentication.
gboolean acceptClientCertificate(GTlsConnection*, GTlsCertificate* peer, GTlsCertificateFlags,
                                 gpointer ca) {
    if (!ca || !peer)
        return FALSE;
    GTlsCertificateFlags flags = g_tls_database_verify_chain(
        G_TLS_DATABASE(ca), peer, G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT, nullptr, nullptr,
        G_TLS_DATABASE_VERIFY_NONE, nullptr, nullptr);
    return flags == 0;
}

} // namespace

TlsTransport::TlsTransport(GIOStream* tls, int socketFd)
    : tls_(G_IO_STREAM(g_object_ref(tls))), socketFd_(socketFd), cancel_(g_cancellable_new()) {}

TlsTransport::~TlsTransport() {
    g_object_unref(tls_);
    g_object_unref(cancel_);
}

void TlsTransport::readExact(void* buf, size_t len) {
    if (len == 0)
        return;
    gsize got = 0;
    GError* err = nullptr;
    GInputStream* in = g_io_stream_get_input_stream(tls_);
    if (!g_input_stream_read_all(in, buf, len, &got, cancel_, &err)) {
        if (g_cancellable_is_cancelled(cancel_)) {
            g_clear_error(&err);
            throw ConnectionClosed();
        }
        throw NbdError(takeError(err, "TLS read"));
    }
    if (got < len)
        throw ConnectionClosed();
}

void TlsTransport::writeAll(const iovec* iov, int count) {
    std::vector<GOutputVector> v(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i)
        v[size_t(i)] = {iov[i].iov_base, iov[i].iov_len};
    GError* err = nullptr;
    GOutputStream* out = g_io_stream_get_output_stream(tls_);
    if (!g_output_stream_writev_all(out, v.data(), v.size(), nullptr, cancel_, &err)) {
        if (g_cancellable_is_cancelled(cancel_)) {
            g_clear_error(&err);
            throw ConnectionClosed();
        }
        throw NbdError(takeError(err, "TLS write"));
    }
}

void TlsTransport::shutdown() {
    g_cancellable_cancel(cancel_);
    if (socketFd_ >= 0)
        ::shutdown(socketFd_, SHUT_RDWR);
}

TlsServerCredentials::TlsServerCredentials(const TlsServerSettings& settings)
    : verifyPeer_(settings.verifyPeer || settings.allowedClientDn),
      allowedClientDn_(settings.allowedClientDn) {
    const std::string& dir = settings.dir;
    GError* err = nullptr;
    std::string cert = dir + "/server-cert.pem", key = dir + "/server-key.pem";
    cert_ = g_tls_certificate_new_from_files(cert.c_str(), key.c_str(), &err);
    if (!cert_)
        throw NbdError(takeError(err, "TLS credentials " + cert));
    std::string ca = dir + "/ca-cert.pem";
    if (fileExists(ca)) {
        ca_ = g_tls_file_database_new(ca.c_str(), &err);
        if (!ca_) {
            g_object_unref(cert_);
            throw NbdError(takeError(err, "TLS CA " + ca));
        }
    } else if (verifyPeer_) {
        g_object_unref(cert_);
        throw NbdError("TLS credentials: " + ca + " is needed to verify clients");
    }
}

TlsServerCredentials::~TlsServerCredentials() {
    g_object_unref(cert_);
    if (ca_)
        g_object_unref(ca_);
}

std::unique_ptr<Transport> TlsServerCredentials::handshake(GIOStream* base, int socketFd) const {
    GError* err = nullptr;
    GIOStream* tls = g_tls_server_connection_new(base, cert_, &err);
    if (!tls)
        throw NbdError(takeError(err, "TLS setup"));
    g_object_set(tls, "authentication-mode",
                 verifyPeer_ ? G_TLS_AUTHENTICATION_REQUIRED : G_TLS_AUTHENTICATION_NONE, nullptr);
    if (ca_)
        g_tls_connection_set_database(G_TLS_CONNECTION(tls), ca_);
    if (verifyPeer_)
        g_signal_connect(tls, "accept-certificate", G_CALLBACK(&acceptClientCertificate), ca_);
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), nullptr, &err)) {
        g_object_unref(tls);
        throw NbdError(takeError(err, "TLS handshake"));
    }
    auto t = std::make_unique<TlsTransport>(tls, socketFd);
    if (allowedClientDn_) {
        GTlsCertificate* peer = g_tls_connection_get_peer_certificate(G_TLS_CONNECTION(tls));
        std::string dn = peer ? certificateDn(peer) : std::string();
        g_object_unref(tls);
        if (dn != *allowedClientDn_)
            throw NbdError("TLS client " +
                           (peer ? "'" + dn + "'" : std::string("without a certificate")) +
                           " is not allowed in (authz identity '" + *allowedClientDn_ + "')");
        return t;
    }
    g_object_unref(tls);
    return t;
}

std::string certificateDn(GTlsCertificate* cert) {
    gchar* name = nullptr;
    g_object_get(cert, "subject-name", &name, nullptr);
    std::string dn = name ? name : "";
    g_free(name);
    return dn;
}

std::unique_ptr<Transport> tlsClientHandshake(GIOStream* base, int socketFd, const std::string& dir,
                                              const std::string& hostname) {
    GError* err = nullptr;
    GSocketConnectable* identity = nullptr;
    if (!hostname.empty())
        identity = g_network_address_new(hostname.c_str(), 0);
    GIOStream* tls = g_tls_client_connection_new(base, identity, &err);
    if (identity)
        g_object_unref(identity);
    if (!tls)
        throw NbdError(takeError(err, "TLS setup"));
    std::string ca = dir + "/ca-cert.pem";
    GTlsDatabase* db = g_tls_file_database_new(ca.c_str(), &err);
    if (!db) {
        g_object_unref(tls);
        throw NbdError(takeError(err, "TLS CA " + ca));
    }
    g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
    g_object_unref(db);
    GTlsCertificateFlags check = G_TLS_CERTIFICATE_VALIDATE_ALL;
    if (hostname.empty())
        check = GTlsCertificateFlags(check & ~G_TLS_CERTIFICATE_BAD_IDENTITY);
    G_GNUC_BEGIN_IGNORE_DEPRECATIONS
    g_tls_client_connection_set_validation_flags(G_TLS_CLIENT_CONNECTION(tls), check);
    G_GNUC_END_IGNORE_DEPRECATIONS
    std::string cert = dir + "/client-cert.pem", key = dir + "/client-key.pem";
    if (fileExists(cert) && fileExists(key)) {
        GTlsCertificate* c = g_tls_certificate_new_from_files(cert.c_str(), key.c_str(), &err);
        if (!c) {
            g_object_unref(tls);
            throw NbdError(takeError(err, "TLS client certificate " + cert));
        }
        g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), c);
        g_object_unref(c);
    }
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), nullptr, &err)) {
        g_object_unref(tls);
        throw NbdError(takeError(err, "TLS handshake"));
    }
    auto t = std::make_unique<TlsTransport>(tls, socketFd);
    g_object_unref(tls);
    return t;
}

} // namespace e2kvm::nbd

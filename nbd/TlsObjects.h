#pragma once
// TlsObjects: QEMU's user-creatable objects for NBD over TLS, by id: tls-creds-x509 (a
// credentials directory and verify-peer) and authz-simple (the one client distinguished name
// let in). qemu-nbd's --object/--tls-creds/--tls-authz and QMP's object-add/nbd-server-start
// both name them; serverSettings() turns a choice of them into what the NBD server checks.
#include "nbd/TlsTransport.h"

#include <map>
#include <optional>
#include <string>

namespace e2kvm::nbd {

class TlsObjects {
public:
    // Throw std::runtime_error, worded as QEMU words it, on a duplicate id or a client
    // endpoint.
    void addCredentials(const std::string& id, const std::string& dir, bool serverEndpoint,
                        bool verifyPeer);
    void addAuthz(const std::string& id, const std::string& identity);
    // False if there is no object with this id.
    bool remove(const std::string& id);
    bool contains(const std::string& id) const;
    // The directory of tls-creds-x509 object `id` (either endpoint), if there is one.
    std::optional<std::string> credentialsDir(const std::string& id) const;
    // The identity of authz-simple object `id`; throws std::runtime_error if there is none.
    const std::string& authzIdentity(const std::string& id) const;
    // The server's TLS from credentials `credsId` and, if given, authorization `authzId`.
    // Throws std::runtime_error naming the missing or mistyped object.
    TlsServerSettings serverSettings(const std::string& credsId,
                                     const std::optional<std::string>& authzId) const;

private:
    struct Credentials {
        std::string dir;
        bool serverEndpoint = true;
        bool verifyPeer = true;
    };
    void checkNewId(const std::string& id) const;

    std::map<std::string, Credentials> credentials_;
    std::map<std::string, std::string> authz_; // id -> identity
};

} // namespace e2kvm::nbd

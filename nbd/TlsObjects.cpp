#include "nbd/TlsObjects.h"

#include <stdexcept>

namespace e2kvm::nbd {

void TlsObjects::checkNewId(const std::string& id) const {
    if (id.empty())
        throw std::runtime_error("Parameter 'id' is missing");
    if (contains(id))
        throw std::runtime_error("attempt to add duplicate property '" + id +
                                 "' to object (type 'container')");
}

void TlsObjects::addCredentials(const std::string& id, const std::string& dir, bool serverEndpoint,
                                bool verifyPeer) {
    checkNewId(id);
    if (dir.empty())
        throw std::runtime_error("Parameter 'dir' is missing");
    credentials_[id] = Credentials{dir, serverEndpoint, verifyPeer};
}

void TlsObjects::addAuthz(const std::string& id, const std::string& identity) {
    checkNewId(id);
    authz_[id] = identity;
}

bool TlsObjects::remove(const std::string& id) {
    return credentials_.erase(id) + authz_.erase(id) > 0;
}

bool TlsObjects::contains(const std::string& id) const {
    return credentials_.count(id) || authz_.count(id);
}

TlsServerSettings TlsObjects::serverSettings(const std::string& credsId,
                                             const std::optional<std::string>& authzId) const {
    auto c = credentials_.find(credsId);
    if (c == credentials_.end()) {
        if (authz_.count(credsId))
            throw std::runtime_error("Object with id '" + credsId + "' is not TLS credentials");
        throw std::runtime_error("No TLS credentials with id '" + credsId + "'");
    }
    if (!c->second.serverEndpoint)
        throw std::runtime_error("Expected TLS credentials for a server endpoint");
    TlsServerSettings s;
    s.dir = c->second.dir;
    s.verifyPeer = c->second.verifyPeer;
    if (authzId)
        s.allowedClientDn = authzIdentity(*authzId);
    return s;
}

std::optional<std::string> TlsObjects::credentialsDir(const std::string& id) const {
    auto c = credentials_.find(id);
    if (c == credentials_.end())
        return std::nullopt;
    return c->second.dir;
}

const std::string& TlsObjects::authzIdentity(const std::string& id) const {
    auto a = authz_.find(id);
    if (a == authz_.end())
        throw std::runtime_error("No authorization object with id '" + id + "' (authz-simple)");
    return a->second;
}

} // namespace e2kvm::nbd

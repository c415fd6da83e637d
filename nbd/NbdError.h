#pragma once
// Exceptions of the NBD code: ConnectionClosed when the peer went away (not an error worth a
// message), NbdError for protocol violations and refused negotiations (ends one connection).
#include <stdexcept>
#include <string>

namespace e2kvm::nbd {

class NbdError : public std::runtime_error {
public:
    explicit NbdError(const std::string& message) : std::runtime_error(message) {}
};

class ConnectionClosed : public NbdError {
public:
    ConnectionClosed() : NbdError("connection closed by peer") {}
};

} // namespace e2kvm::nbd

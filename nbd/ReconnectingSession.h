#pragma once
// ReconnectingSession: the connection of an NBD node with QEMU's reconnect-delay. When the
// connection is lost, the requests that need it wait while new connections are tried, up to
// `delay` from the moment the loss was seen; a request whose wait ends without a connection
// fails (NbdError), and so do later ones at once unless a new attempt (at most one a second)
// connects. A request that met the loss is sent again on the new connection. cancelInFlight()
// (a job cancelled with force) ends the waits at once. With no delay, a lost connection stays
// lost (every request fails), as before this class existed.
#include "nbd/Client.h"
#include "nbd/NbdError.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace e2kvm::nbd {

class ReconnectingSession {
public:
    // Makes a new connection to the same export; throws when it cannot (any std::exception).
    using Connector = std::function<std::unique_ptr<Client>()>;

    ReconnectingSession(std::unique_ptr<Client> first, Connector connector,
                        std::chrono::milliseconds delay);

    // The first connection: the export's size, flags and contexts as negotiated on open.
    const Client& first() const { return *first_; }

    // Runs `request(Client&)` on the connection, again on a new one when the connection was
    // lost during it (NbdError) and a reconnect succeeds in time. Throws NbdError when there
    // is no connection, and what `request` throws otherwise.
    template <typename Request> auto run(Request&& request) {
        for (;;) {
            std::shared_ptr<Client> client = connection();
            try {
                return request(*client);
            } catch (const NbdError&) {
                if (!connectionLost(client))
                    throw;
            }
        }
    }

    // QEMU's bdrv_cancel_in_flight: requests that wait for a reconnect fail now, and later ones
    // do not wait either until a connection is made again.
    void cancelInFlight();

private:
    // The current connection, or a new one made while waiting as the delay allows.
    std::shared_ptr<Client> connection();
    // `client` broke: whether the request is to be tried again (a reconnect is possible).
    bool connectionLost(const std::shared_ptr<Client>& client);
    // One attempt, with the lock released meanwhile; true when connected.
    bool attempt(std::unique_lock<std::mutex>& lock);

    const std::shared_ptr<Client> first_;
    const Connector connector_;
    const std::chrono::milliseconds delay_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::shared_ptr<Client> current_; // null while disconnected
    bool waiting_ = false;            // QEMU's CONNECTING_WAIT: requests wait for a reconnect
    bool connecting_ = false;         // an attempt is under way (by one request)
    std::chrono::steady_clock::time_point deadline_;    // the end of the wait
    std::chrono::steady_clock::time_point lastAttempt_; // of a failed attempt
};

} // namespace e2kvm::nbd

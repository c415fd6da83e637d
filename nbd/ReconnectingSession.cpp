#include "nbd/ReconnectingSession.h"

#include "nbd/NbdError.h"

#include <algorithm>
#include <exception>

namespace e2kvm::nbd {

namespace {

using Clock = std::chrono::steady_clock;

// How long a waiting request sleeps between attempts, and how often requests that do not wait
// try to connect again.
constexpr std::chrono::milliseconds kRetryInterval{200};
constexpr std::chrono::milliseconds kNoWaitInterval{1000};

} // namespace

ReconnectingSession::ReconnectingSession(std::unique_ptr<Client> first, Connector connector,
                                         std::chrono::milliseconds delay)
    : first_(std::move(first)), connector_(std::move(connector)), delay_(delay), current_(first_) {}

bool ReconnectingSession::connectionLost(const std::shared_ptr<Client>& client) {
    if (delay_.count() <= 0)
        return false;
    std::lock_guard lock(mutex_);
    if (current_ == client) { // the first request to see the loss starts the wait
        current_.reset();
        waiting_ = true;
        deadline_ = Clock::now() + delay_;
    }
    return true;
}

bool ReconnectingSession::attempt(std::unique_lock<std::mutex>& lock) {
    connecting_ = true;
    lock.unlock();
    std::unique_ptr<Client> made;
    try {
        made = connector_();
    } catch (const std::exception&) {
        // not there (yet): the waiters try again
    }
    lock.lock();
    connecting_ = false;
    if (made) {
        current_ = std::shared_ptr<Client>(std::move(made));
        waiting_ = false;
    } else {
        lastAttempt_ = Clock::now();
    }
    changed_.notify_all();
    return current_ != nullptr;
}

std::shared_ptr<Client> ReconnectingSession::connection() {
    std::unique_lock lock(mutex_);
    if (current_)
        return current_;
    const NbdError gaveUp("Connection to the NBD server lost, and not made again in time");
    for (;;) {
        if (current_)
            return current_;
        if (waiting_ && Clock::now() >= deadline_)
            waiting_ = false; // the delay is over: QEMU's CONNECTING_NOWAIT
        if (!waiting_) {
            // One attempt now and then, without waiting for the server.
            if (connecting_ || Clock::now() - lastAttempt_ < kNoWaitInterval || !attempt(lock))
                throw gaveUp;
            return current_;
        }
        if (!connecting_) {
            if (attempt(lock))
                return current_;
            if (!waiting_)
                continue;
        }
        changed_.wait_until(lock, std::min(deadline_, Clock::now() + kRetryInterval));
    }
}

void ReconnectingSession::cancelInFlight() {
    std::lock_guard lock(mutex_);
    if (!current_)
        waiting_ = false;
    changed_.notify_all();
}

} // namespace e2kvm::nbd

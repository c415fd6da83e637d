#pragma once
// SignalWatcher: turns SIGINT, SIGTERM and SIGHUP into a clean shutdown request. block() must
// run in main() before any thread starts, so that only the watcher thread receives them.
#include "app/e2kvm-system/ShutdownRequest.h"

#include <atomic>
#include <thread>

namespace e2kvm::sys {

class SignalWatcher {
public:
    static void block(); // blocks the signals in the calling thread (inherited by new threads)
    explicit SignalWatcher(ShutdownRequest& shutdown);
    ~SignalWatcher();
    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;

private:
    void run();
    ShutdownRequest& shutdown_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

} // namespace e2kvm::sys

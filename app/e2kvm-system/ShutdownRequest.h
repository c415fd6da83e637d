#pragma once
// ShutdownRequest: where the reasons to end e2kvm-system meet (guest power-off, QMP quit, the
// window closed, a signal, Ctrl-A x). The first request wins; the main thread waits for it.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace e2kvm::sys {

enum class ShutdownCause { GuestPowerOff, QmpQuit, WindowClosed, Signal, ConsoleEscape, Failure };

struct Shutdown {
    ShutdownCause cause;
    std::string detail; // message for stderr ("terminating on signal 15 from pid 12 (kill)")
};

// QMP's SHUTDOWN reason for a cause ("guest-shutdown", "host-qmp-quit", "host-ui",
// "host-signal").
const char* shutdownReason(ShutdownCause cause);

class ShutdownRequest {
public:
    // Any thread; never blocks for long. Later requests are ignored.
    void request(ShutdownCause cause, std::string detail = {});
    Shutdown wait();
    std::optional<Shutdown> current() const;
    // Called (once, on the requesting thread) by the first request: wakes the display loop.
    void setWake(std::function<void()> wake);

private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<Shutdown> shutdown_;
    std::function<void()> wake_;
};

} // namespace e2kvm::sys

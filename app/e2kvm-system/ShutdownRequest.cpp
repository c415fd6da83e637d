#include "app/e2kvm-system/ShutdownRequest.h"

namespace e2kvm::sys {

const char* shutdownReason(ShutdownCause cause) {
    switch (cause) {
    case ShutdownCause::GuestPowerOff:
        return "guest-shutdown";
    case ShutdownCause::QmpQuit:
    case ShutdownCause::ConsoleEscape: // Ctrl-A x is a quit command, as in qemu-system
        return "host-qmp-quit";
    case ShutdownCause::WindowClosed:
        return "host-ui";
    case ShutdownCause::Signal:
        return "host-signal";
    case ShutdownCause::Failure:
        return "host-error";
    }
    return "host-error";
}

void ShutdownRequest::request(ShutdownCause cause, std::string detail) {
    std::function<void()> wake;
    {
        std::lock_guard lock(mutex_);
        if (shutdown_)
            return;
        shutdown_ = Shutdown{cause, std::move(detail)};
        wake = wake_;
    }
    cv_.notify_all();
    if (wake)
        wake();
}

Shutdown ShutdownRequest::wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return shutdown_.has_value(); });
    return *shutdown_;
}

std::optional<Shutdown> ShutdownRequest::current() const {
    std::lock_guard lock(mutex_);
    return shutdown_;
}

void ShutdownRequest::setWake(std::function<void()> wake) {
    bool already;
    {
        std::lock_guard lock(mutex_);
        wake_ = wake;
        already = shutdown_.has_value();
    }
    if (already && wake)
        wake();
}

} // namespace e2kvm::sys

#include "app/e2kvm-system/SignalWatcher.h"

#include <cerrno>
#include <csignal>
#include <fstream>
#include <string>
#include <time.h>

namespace e2kvm::sys {

namespace {

sigset_t watchedSignals() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    return s;
}

std::string processName(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

} // namespace

void SignalWatcher::block() {
    sigset_t s = watchedSignals();
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

SignalWatcher::SignalWatcher(ShutdownRequest& shutdown) : shutdown_(shutdown) {
    thread_ = std::thread([this] { run(); });
}

SignalWatcher::~SignalWatcher() {
    stopping_ = true;
    thread_.join();
}

void SignalWatcher::run() {
    sigset_t s = watchedSignals();
    while (!stopping_) {
        siginfo_t info{};
        timespec timeout{0, 100'000'000};
        int sig = sigtimedwait(&s, &info, &timeout);
        if (sig < 0)
            continue; // timeout or EINTR: look at stopping_ again
        // The same words as qemu-system, so scripts that grep for them keep working.
        std::string detail = "terminating on signal " + std::to_string(sig);
        if (info.si_code == SI_USER && info.si_pid > 0) {
            detail += " from pid " + std::to_string(info.si_pid);
            std::string name = processName(info.si_pid);
            if (!name.empty())
                detail += " (" + name + ")";
        }
        shutdown_.request(ShutdownCause::Signal, detail);
    }
}

} // namespace e2kvm::sys

#pragma once
// Shared helpers of the machine tests: a -kernel config for a test program, a runner that
// records serial output and events, and bounded waits (tests never hang).
#include "emu/machine/Machine.h"
#include "emu/machine/MachineRunner.h"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace e2kvm::emu::test {

inline std::string programPath(const std::string& name) {
    return std::string(MACHINE_PROGRAMS_DIR) + "/" + name + ".elf";
}

inline MachineConfig kernelConfig(const std::string& program) {
    MachineConfig c;
    c.ramBytes = 32ull << 20;
    c.kernelPath = programPath(program);
    c.deterministic = true;
    return c;
}

// A runner plus everything it reported, safe to inspect from the test thread.
class RecordingRunner {
public:
    explicit RecordingRunner(MachineConfig config)
        : runner(std::make_unique<MachineRunner>(std::move(config))) {
        runner->setSerialOutput([this](const char* d, size_t n) {
            std::lock_guard lock(mutex_);
            serial_.append(d, n);
            changed_.notify_all();
        });
        runner->setEventCallback([this](const MachineEvent& e) {
            std::lock_guard lock(mutex_);
            events_.push_back(e);
            changed_.notify_all();
        });
    }

    // The runner goes first: its quit reports into the members below.
    ~RecordingRunner() { runner.reset(); }
    RecordingRunner(const RecordingRunner&) = delete;
    RecordingRunner& operator=(const RecordingRunner&) = delete;

    std::string serial() const {
        std::lock_guard lock(mutex_);
        return serial_;
    }
    std::vector<MachineEvent> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    // Waits (at most `timeout`) until pred() over the recorded state holds.
    bool waitFor(const std::function<bool(const std::string& serial,
                                          const std::vector<MachineEvent>& events)>& pred,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return pred(serial_, events_); });
    }
    bool waitForSerial(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        return waitFor(
            [&](const std::string& s, const auto&) { return s.find(text) != std::string::npos; },
            timeout);
    }
    bool waitForEvent(MachineEvent::Kind kind,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        return waitFor(
            [&](const auto&, const std::vector<MachineEvent>& ev) {
                for (const auto& e : ev)
                    if (e.kind == kind)
                        return true;
                return false;
            },
            timeout);
    }

    std::unique_ptr<MachineRunner> runner;

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string serial_;
    std::vector<MachineEvent> events_;
};

// Polls `pred` every millisecond for at most `timeout`.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

} // namespace e2kvm::emu::test

#include "emu/machine/MachineRunner.h"

#include "emu/machine/Machine.h"
#include "emu/machine/MachineState.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace e2kvm::emu {

const char* runStateName(RunState s) {
    switch (s) {
    case RunState::Prelaunch:
        return "prelaunch";
    case RunState::Running:
        return "running";
    case RunState::Paused:
        return "paused";
    case RunState::Shutdown:
        return "shutdown";
    case RunState::InternalError:
        return "internal-error";
    case RunState::RestoreVm:
        return "restore-vm";
    }
    return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kBatchBundles = 50'000;
// Input events (keys, pointer, serial chunks) queued beyond this many are dropped.
constexpr size_t kMaxQueuedInput = 4096;

} // namespace

struct MachineRunner::Impl : InputSink {
    explicit Impl(MachineConfig c) : config(c), machine(std::move(c)) {}

    MachineConfig config;
    Machine machine;

    mutable std::mutex mutex;
    // Serializes machine access from callers while no machine thread runs (before start(),
    // after quit()); always taken before `mutex`.
    std::recursive_mutex inlineMutex;
    std::mutex joinMutex;
    std::atomic<std::thread::id> machineThread{};
    std::condition_variable wake;     // machine thread: commands queued
    std::condition_variable finished; // callers: a command has run
    std::deque<std::function<void()>> queue;
    uint64_t queued = 0, done = 0; // command tickets
    bool threadRunning = false;
    bool quitRequested = false;
    std::thread thread;

    std::atomic<RunState> state{RunState::Prelaunch};
    std::atomic<uint64_t> vtime{0}, bundles{0};
    std::function<void(const MachineEvent&)> eventCb;
    bool waiting = false; // the CPU is in `wait` (idle)

    // Wall-clock anchor: virtual time vAnchor corresponded to wall time wallAnchor.
    uint64_t vAnchor = 0;
    Clock::time_point wallAnchor;

    // Runs fn on the machine thread (or here if that thread is not running) and waits;
    // an exception fn throws comes back to the caller.
    void call(const std::function<void()>& fn) {
        if (std::this_thread::get_id() == machineThread.load()) {
            fn(); // from an event or serial callback
            return;
        }
        std::exception_ptr error;
        bool ran = false;
        std::function<void()> wrapped = [&] {
            try {
                fn();
            } catch (...) {
                error = std::current_exception();
            }
            ran = true;
        };
        {
            std::unique_lock inlineLock(inlineMutex);
            std::unique_lock lock(mutex);
            if (threadRunning) {
                inlineLock.unlock();
                queue.push_back(wrapped);
                uint64_t ticket = ++queued;
                wake.notify_one();
                finished.wait(lock, [&] { return done >= ticket || !threadRunning; });
            }
        }
        if (!ran) {
            // Not started, or the thread ended first (it drops what it did not run): run
            // here, serialized with other callers; start() waits for it.
            std::lock_guard inlineLock(inlineMutex);
            wrapped();
        }
        if (error)
            std::rethrow_exception(error);
    }
    // Queues fn without waiting (input); runs it here if the thread is not running.
    void post(std::function<void()> fn) {
        std::unique_lock inlineLock(inlineMutex);
        std::unique_lock lock(mutex);
        if (!threadRunning) {
            lock.unlock();
            fn();
            return;
        }
        if (queue.size() >= kMaxQueuedInput)
            return; // a paused or stuck machine does not buffer input without bound
        queue.push_back(std::move(fn));
        ++queued;
        wake.notify_one();
    }

    void emit(MachineEvent::Kind kind, std::string detail) {
        if (eventCb)
            eventCb(MachineEvent{kind, std::move(detail)});
    }
    void anchor() {
        vAnchor = machine.virtualTimeNs();
        wallAnchor = Clock::now();
    }
    void publishCounters() {
        vtime.store(machine.virtualTimeNs(), std::memory_order_relaxed);
        bundles.store(machine.bundlesExecuted(), std::memory_order_relaxed);
    }

    // Runs queued commands; returns false once quit was requested.
    bool drain() {
        std::unique_lock lock(mutex);
        while (!queue.empty()) {
            auto fn = std::move(queue.front());
            queue.pop_front();
            lock.unlock();
            fn();
            publishCounters();
            lock.lock();
            ++done;
            finished.notify_all();
        }
        return !quitRequested;
    }
    // Blocks until a command arrives or `until` passes (nullopt = no limit).
    void sleep(std::optional<Clock::time_point> until) {
        std::unique_lock lock(mutex);
        auto ready = [&] { return !queue.empty() || quitRequested; };
        if (until)
            wake.wait_until(lock, *until, ready);
        else
            wake.wait(lock, ready);
    }
    Clock::time_point wallFor(uint64_t v) const {
        return wallAnchor + std::chrono::nanoseconds(v > vAnchor ? v - vAnchor : 0);
    }
    uint64_t virtualForWallNow() const {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - wallAnchor);
        return vAnchor + uint64_t(std::max<int64_t>(ns.count(), 0));
    }

    void idle() {
        if (machine.interruptPending()) {
            waiting = false;
            return;
        }
        std::optional<uint64_t> deadline = machine.nextDeadline();
        if (!deadline) {
            machine.settle();
            sleep(std::nullopt); // nothing happens until the host sends something
            if (!config.deterministic)
                machine.passTimeTo(virtualForWallNow()); // the guest's time went on meanwhile
            return;
        }
        if (config.deterministic) {
            machine.passTimeTo(*deadline);
            return;
        }
        sleep(wallFor(*deadline));
        machine.passTimeTo(std::min(*deadline, virtualForWallNow()));
    }

    void runBatch() {
        MachineStop stop;
        try {
            stop = machine.run(kBatchBundles);
        } catch (const std::exception& e) {
            // Not the guest's doing (e.g. out of host memory): stop the machine, keep the
            // process alive.
            stop.kind = MachineStop::Fault;
            stop.detail = std::string("host error while running the machine: ") + e.what();
        }
        switch (stop.kind) {
        case MachineStop::Budget:
            break;
        case MachineStop::Idle:
            waiting = true;
            break;
        case MachineStop::PowerOff:
            state = RunState::Shutdown;
            machine.flushDisks();
            emit(MachineEvent::Shutdown, "guest-shutdown");
            break;
        case MachineStop::GuestReset:
            waiting = false;
            emit(MachineEvent::Reset, "guest-reset");
            break;
        case MachineStop::Fault:
            state = RunState::InternalError;
            emit(MachineEvent::Error, stop.detail);
            break;
        }
        if (config.deterministic || state != RunState::Running)
            return;
        // Virtual time follows the wall clock: a batch that ran ahead of it waits, and a busy
        // guest, whose bundles take longer than a nanosecond each, is moved on to the wall
        // clock, so that its timer, clock and frames keep real time.
        uint64_t v = machine.virtualTimeNs(), w = virtualForWallNow();
        if (v > w)
            sleep(wallFor(v));
        else if (w > v)
            machine.passTimeTo(w);
    }

    void loop() {
        machineThread = std::this_thread::get_id();
        anchor();
        while (drain()) {
            publishCounters();
            if (state != RunState::Running) {
                sleep(std::nullopt);
                continue;
            }
            if (waiting)
                idle();
            if (!waiting && state == RunState::Running)
                runBatch();
        }
        machine.flushDisks();
        publishCounters();
        if (state != RunState::Shutdown) {
            state = RunState::Shutdown;
            emit(MachineEvent::Shutdown, "host-qmp-quit");
        }
        std::lock_guard lock(mutex);
        queue.clear(); // callers waiting on these run them themselves
        threadRunning = false;
        finished.notify_all();
    }

    // InputSink: any thread, never blocks on the machine.
    void keyEvent(uint16_t scancode, bool pressed) override {
        post([this, scancode, pressed] { machine.keyEvent(scancode, pressed); });
    }
    void pointerEvent(uint16_t x, uint16_t y, uint32_t buttons) override {
        post([this, x, y, buttons] { machine.pointerEvent(x, y, buttons); });
    }
};

MachineRunner::MachineRunner(MachineConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

MachineRunner::~MachineRunner() {
    quit();
}

void MachineRunner::start(bool paused) {
    std::lock_guard inlineLock(impl_->inlineMutex);
    std::lock_guard lock(impl_->mutex);
    if (impl_->threadRunning || impl_->thread.joinable() || impl_->quitRequested)
        return;
    if (!paused)
        impl_->state = RunState::Running;
    impl_->threadRunning = true;
    impl_->thread = std::thread([this] { impl_->loop(); });
}

void MachineRunner::pause() {
    impl_->call([this] {
        if (impl_->state == RunState::Running) {
            impl_->state = RunState::Paused;
            impl_->emit(MachineEvent::Stop, "");
        }
    });
}

void MachineRunner::resume() {
    impl_->call([this] {
        RunState s = impl_->state;
        if (s == RunState::Paused || s == RunState::Prelaunch || s == RunState::RestoreVm) {
            impl_->state = RunState::Running;
            impl_->anchor();
            impl_->emit(MachineEvent::Resume, "");
        }
    });
}

void MachineRunner::reset() {
    impl_->call([this] {
        impl_->machine.reset();
        impl_->waiting = false;
        impl_->anchor();
        RunState s = impl_->state;
        if (s == RunState::Shutdown || s == RunState::InternalError)
            impl_->state = RunState::Running;
        impl_->emit(MachineEvent::Reset, "host-qmp-system-reset");
    });
}

void MachineRunner::quit() {
    if (std::this_thread::get_id() == impl_->machineThread.load()) {
        std::lock_guard lock(impl_->mutex); // from a callback: the loop ends after this batch
        impl_->quitRequested = true;
        return;
    }
    {
        std::lock_guard lock(impl_->mutex);
        impl_->quitRequested = true;
        impl_->wake.notify_one();
    }
    {
        std::lock_guard joinLock(impl_->joinMutex); // concurrent quit() callers: one joins
        if (impl_->thread.joinable())
            impl_->thread.join();
    }
    // Never started: finish here (after a join the loop has done this already).
    std::lock_guard inlineLock(impl_->inlineMutex);
    if (impl_->state != RunState::Shutdown) {
        impl_->machine.flushDisks();
        impl_->state = RunState::Shutdown;
        impl_->emit(MachineEvent::Shutdown, "host-qmp-quit");
    }
}

void MachineRunner::saveState(const StateStore& store) {
    impl_->call([&] {
        const bool wasRunning = impl_->state == RunState::Running;
        if (wasRunning) {
            impl_->state = RunState::Paused;
            impl_->emit(MachineEvent::Stop, "");
        }
        std::exception_ptr error;
        try {
            store(MachineState::save(impl_->machine), impl_->machine.virtualTimeNs());
        } catch (...) {
            error = std::current_exception();
        }
        if (wasRunning) {
            impl_->state = RunState::Running;
            impl_->anchor();
            impl_->emit(MachineEvent::Resume, "");
        }
        if (error)
            std::rethrow_exception(error);
    });
}

void MachineRunner::loadState(const std::function<std::vector<uint8_t>()>& fetch) {
    impl_->call([&] {
        const bool wasRunning = impl_->state == RunState::Running;
        if (wasRunning) {
            impl_->state = RunState::RestoreVm; // as QEMU's loadvm stops a running VM
            impl_->emit(MachineEvent::Stop, "");
        }
        MachineState::load(impl_->machine, fetch());
        impl_->waiting = false;
        if (wasRunning) {
            impl_->state = RunState::Running;
            impl_->anchor();
            impl_->emit(MachineEvent::Resume, "");
        }
    });
}

RunState MachineRunner::state() const {
    return impl_->state;
}

void MachineRunner::runOnMachine(const std::function<void(Machine&)>& fn) {
    impl_->call([&] { fn(impl_->machine); });
}

FramePublisher& MachineRunner::display() {
    return impl_->machine.display();
}

InputSink& MachineRunner::input() {
    return *impl_;
}

void MachineRunner::setEventCallback(std::function<void(const MachineEvent&)> cb) {
    impl_->call([&] { impl_->eventCb = std::move(cb); });
}

void MachineRunner::setSerialOutput(std::function<void(const char* data, size_t len)> cb) {
    impl_->call([&] { impl_->machine.setSerialOutput(std::move(cb)); });
}

void MachineRunner::serialInput(const std::string& bytes) {
    impl_->post([this, bytes] { impl_->machine.serialInput(bytes); });
}

uint64_t MachineRunner::virtualTimeNs() const {
    return impl_->vtime.load(std::memory_order_relaxed);
}

uint64_t MachineRunner::bundlesExecuted() const {
    return impl_->bundles.load(std::memory_order_relaxed);
}

const MachineConfig& MachineRunner::config() const {
    return impl_->config;
}

} // namespace e2kvm::emu

#pragma once
// IoPendingRequest: one aio request of IoShell (aio_read, aio_write) between its submission and
// the point where the shell waits for it (aio_flush, close, exit), with what it prints when it
// completes. It runs then, or at once on its own thread when a breakpoint may hold it (an image
// with an error injector), so that later commands (wait_break, resume) can act on it.
#include "app/ioshell/IoOutput.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

namespace e2kvm::io {

struct IoPendingRequest {
    std::function<void(IoOutput&)> run; // the request, printing to its argument
    RecordedOutput printed;
    std::thread thread; // joinable if the request was started at submission
    std::atomic<bool> done{false};
    // For a request started at submission: when it completed, counted across the shell's
    // requests (0: not yet, or not started at submission).
    std::atomic<uint64_t> completedAs{0};
    // Started at submission, it was still running when submission moved on without being held
    // at a breakpoint itself: it waits behind another request (a cluster that one allocates).
    bool waitedBehind = false;
    // Held at a breakpoint when submission moved on.
    bool held = false;
};

} // namespace e2kvm::io

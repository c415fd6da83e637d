// machine_bench: runs the draw60 guest (a 1024x768 display repainted at 60 frames per virtual
// second) for a few seconds of wall time with one FramePublisher listener that takes every
// frame it is told about, as a display window would. Prints host CPU time per wall second
// (run loop + publishing + the listener), frames delivered per second, the time from start()
// to the first 1024x768 frame, and bundles per second. There is no peer to compare with.
//
//   machine_bench [--seconds S] [--deterministic] [--min-frames N] PROGRAM.elf
// --deterministic runs the guest flat out (no wall-clock pacing): frames/s then says how much
// faster than real time the machine can go. The run fails (exit 1) if fewer than --min-frames
// 1024x768 frames arrived (default 1: figures without a single frame measured nothing).
#include "emu/machine/Machine.h"
#include "emu/machine/MachineRunner.h"

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

using namespace e2kvm::emu;
using Clock = std::chrono::steady_clock;

namespace {

double cpuSeconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int usage() {
    std::fprintf(stderr,
                 "usage: machine_bench [--seconds S] [--deterministic] [--min-frames N] PROGRAM\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    double seconds = 5;
    bool deterministic = false;
    long minFrames = 1;
    std::string program;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (a == "--deterministic")
            deterministic = true;
        else if (a == "--min-frames" && i + 1 < argc)
            minFrames = std::atol(argv[++i]);
        else if (!a.empty() && a[0] != '-' && program.empty())
            program = a;
        else
            return usage();
    }
    if (program.empty() || seconds <= 0)
        return usage();

    MachineConfig config;
    config.ramBytes = 64ull << 20;
    config.kernelPath = program;
    config.deterministic = deterministic;
    try {
        MachineRunner runner(config);
        FramePublisher& display = runner.display();

        std::mutex m;
        std::condition_variable cv;
        bool pending = false, stop = false;
        int id = display.subscribe([&] {
            std::lock_guard lock(m);
            pending = true;
            cv.notify_one();
        });
        std::atomic<long> frames{0};
        std::atomic<long long> firstFrameNs{-1};
        Clock::time_point t0;
        std::thread listener([&] {
            std::unique_lock lock(m);
            while (true) {
                cv.wait(lock, [&] { return pending || stop; });
                if (stop)
                    return;
                pending = false;
                lock.unlock();
                while (auto t = display.take(id)) {
                    if (t->image->width != 1024)
                        continue; // the blank screen before the guest sets its mode
                    // Touch the dirty rows as a viewer uploading them would.
                    volatile uint32_t sink = 0;
                    for (int y = t->dirty.y; y < t->dirty.y + t->dirty.h; y += 16)
                        sink = sink + t->image->pixel(t->dirty.x, y);
                    if (frames++ == 0)
                        firstFrameNs =
                            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0)
                                .count();
                }
                lock.lock();
            }
        });

        double cpu0 = cpuSeconds();
        t0 = Clock::now();
        runner.start();
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
        runner.pause();
        double wall = std::chrono::duration<double>(Clock::now() - t0).count();
        double cpu = cpuSeconds() - cpu0;
        uint64_t bundles = runner.bundlesExecuted(), vtime = runner.virtualTimeNs();
        {
            std::lock_guard lock(m);
            stop = true;
            cv.notify_one();
        }
        listener.join();
        // The cost of finding and publishing a completely changed 1024x768 frame, measured
        // alone on the (paused) machine thread.
        double publishMs = 0;
        runner.runOnMachine([&](Machine& mach) {
            constexpr int kRounds = 30;
            uint32_t* fb =
                reinterpret_cast<uint32_t*>(mach.memory().ramPointer(0x400000, 4096 * 768));
            auto p0 = Clock::now();
            for (int r = 0; r < kRounds; ++r) {
                for (size_t i = 0; i < 1024 * 768; ++i)
                    fb[i] += 0x010101;
                mach.framebuffer().writeRegister(0x30, 1); // FLUSH
            }
            auto p1 = Clock::now();
            for (int r = 0; r < kRounds; ++r)
                for (size_t i = 0; i < 1024 * 768; ++i)
                    fb[i] += 0x010101;
            auto p2 = Clock::now();
            publishMs = (std::chrono::duration<double, std::milli>(p1 - p0).count() -
                         std::chrono::duration<double, std::milli>(p2 - p1).count()) /
                        kRounds;
        });
        runner.quit();

        std::printf("machine_bench: %s, %.2f s wall, %s\n", program.c_str(), wall,
                    deterministic ? "deterministic (flat out)" : "paced by the wall clock");
        std::printf("  host CPU time per wall second: %.3f s (run loop + publishing + listener)\n",
                    cpu / wall);
        std::printf("  frames delivered:              %ld (%.1f per second)\n", frames.load(),
                    double(frames.load()) / wall);
        std::printf("  virtual time:                  %.3f s (%.2fx real time)\n",
                    double(vtime) / 1e9, double(vtime) / 1e9 / wall);
        if (firstFrameNs >= 0)
            std::printf("  start to first 1024x768 frame: %.2f ms\n", double(firstFrameNs) / 1e6);
        else
            std::printf("  start to first 1024x768 frame: none\n");
        std::printf("  bundles per second:            %.1f M (%.1f M per host CPU second)\n",
                    double(bundles) / wall / 1e6, double(bundles) / cpu / 1e6);
        std::printf("  publishing one fully changed 1024x768 frame: %.2f ms (compare + copy)\n",
                    publishMs);
        std::printf("  peer: none (no other e2k-vm implementation)\n");
        if (frames < minFrames) {
            std::fprintf(stderr, "machine_bench: only %ld frames, wanted at least %ld\n",
                         frames.load(), minFrames);
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "machine_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}

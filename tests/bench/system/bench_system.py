#!/usr/bin/env python3
"""e2kvm-system benchmark: the demo VM (1024x768 console, 60 frames/s) headless and in the SDL
window (under Xvfb when there is no $DISPLAY). Figures per mode: host CPU of the e2kvm-system
process (user+sys from /proc/PID/stat) per wall second while the demo runs, i.e. run loop
plus display, and the time from process start to the first frame (E2KVM_TRACE_FIRST_FRAME=1:
published without a window, on screen with one; also measured from spawn to that stderr line).
There is no peer figure: qemu-system is not installed and has no E2K machine.
usage: bench_system.py E2KVM_SYSTEM DEMO_DISK [SECONDS]
       (build targets e2kvm-system and e2kvm_guest first; the disk is copied, not changed)"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_mode(system, disk, display, seconds, env):
    env = dict(env, E2KVM_TRACE_FIRST_FRAME="1", SDL_VIDEODRIVER="x11")
    start = time.monotonic()
    p = subprocess.Popen([system, "-display", display, "-serial", "none",
                          "-drive", "file=%s,format=raw" % disk],
                         stderr=subprocess.PIPE, env=env, text=True)
    first_line, spawn_ms = "", None
    try:
        while True:
            line = p.stderr.readline()
            if not line:
                break
            if "first frame" in line:
                first_line = line.strip()
                spawn_ms = (time.monotonic() - start) * 1000
                break
        time.sleep(1.0)  # past boot: the demo's steady state
        t0, c0 = time.monotonic(), cpu_ticks(p.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(p.pid)
    finally:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
    cpu = (c1 - c0) / CLK_TCK / (t1 - t0) * 100
    traced = first_line.rsplit("after ", 1)[-1] if first_line else "n/a"
    return cpu, traced, spawn_ms


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--inner":
        args = sys.argv[2:]
        inner_only = True
    else:
        args = sys.argv[1:]
        inner_only = False
    if len(args) < 2:
        print(__doc__)
        return 2
    system, demo = args[0], args[1]
    seconds = float(args[2]) if len(args) > 2 else 10.0
    if not inner_only and not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
        # Re-run under a virtual X server so that the SDL window has somewhere to go.
        return subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable,
                               os.path.abspath(__file__), "--inner"] + args).returncode
    tmp = tempfile.mkdtemp(prefix="e2kvm-bench-system-")
    try:
        disk = os.path.join(tmp, "demo.raw")
        shutil.copyfile(demo, disk)
        print("demo VM 1024x768 @ 60 frames/s, %.0f s per mode, %d CPUs, load %.1f"
              % (seconds, os.cpu_count(), os.getloadavg()[0]))
        print("%-14s %22s %26s %26s" % ("mode", "e2kvm CPU (% of a core)",
                                         "first frame (traced)", "first frame (from spawn)"))
        modes = ["none"] + (["sdl"] if os.environ.get("DISPLAY") else [])
        for mode in modes:
            cpu, traced, spawn_ms = run_mode(system, disk, mode, seconds, os.environ)
            print("%-14s %22.1f %26s %26s" % ("-display " + mode, cpu, traced,
                                              "%.1f ms" % spawn_ms if spawn_ms else "n/a"))
        print("peer: none (qemu-system has no E2K machine here); ratio: n/a")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

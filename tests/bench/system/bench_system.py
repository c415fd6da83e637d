#!/usr/bin/env python3
"""e2kvm-system benchmark: the demo VM (1024x768 console, 60 frames/s) headless and in the SDL
window (under Xvfb when there is no $DISPLAY). Figures per mode: host CPU of the e2kvm-system
process (user+sys from /proc/PID/stat) per wall second while the demo runs, i.e. run loop
plus display, and the time from process start to the first frame (E2KVM_TRACE_FIRST_FRAME=1:
published without a window, on screen with one; also measured from spawn to that stderr line).
There is no peer figure: qemu-system is not installed and has no E2K machine.
A mode whose first frame does not come within FIRST_FRAME_TIMEOUT seconds, or whose process
exits before its figures are taken, ends the run with exit 1 and no figures for it; so does a
run without $DISPLAY and without xvfb-run (the SDL mode could not run).
usage: bench_system.py E2KVM_SYSTEM DEMO_DISK [SECONDS]
       (build targets e2kvm-system and e2kvm_guest first; the disk is copied, not changed)"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
FIRST_FRAME_TIMEOUT = 60


class BenchFailed(Exception):
    """The measured work did not happen (no first frame, the process died)."""


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_mode(system, disk, display, seconds, env):
    env = dict(env, E2KVM_TRACE_FIRST_FRAME="1", SDL_VIDEODRIVER="x11")
    start = time.monotonic()
    p = subprocess.Popen([system, "-display", display, "-serial", "none",
                          "-drive", "file=%s,format=raw" % disk],
                         stderr=subprocess.PIPE, env=env, text=True, errors="replace")
    first = {}
    seen = threading.Event()
    stderr_tail = []

    def read_stderr():  # until the process ends, so that it never blocks on a full pipe
        for line in p.stderr:
            stderr_tail[:] = (stderr_tail + [line])[-20:]
            if "first frame" in line and not seen.is_set():
                first["line"] = line.strip()
                first["ms"] = (time.monotonic() - start) * 1000
                seen.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = start + FIRST_FRAME_TIMEOUT
        while not seen.wait(0.1):
            if not reader.is_alive():  # stderr closed: the process has ended
                p.wait(20)
                raise BenchFailed("-display %s: e2kvm-system exited with %s before its first "
                                  "frame\n%s" % (display, p.returncode, "".join(stderr_tail)))
            if time.monotonic() > deadline:
                raise BenchFailed("-display %s: no first frame within %d s\n%s"
                                  % (display, FIRST_FRAME_TIMEOUT, "".join(stderr_tail)))
        time.sleep(1.0)  # past boot: the demo's steady state
        t0, c0 = time.monotonic(), cpu_ticks(p.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(p.pid)
        if p.poll() is not None:
            raise BenchFailed("-display %s: e2kvm-system exited with %s during the measurement\n%s"
                              % (display, p.returncode, "".join(stderr_tail)))
    finally:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        reader.join(5)
    cpu = (c1 - c0) / CLK_TCK / (t1 - t0) * 100
    traced = first["line"].rsplit("after ", 1)[-1]
    return cpu, traced, first["ms"]


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
    if not inner_only and not os.environ.get("DISPLAY"):
        if not shutil.which("xvfb-run"):
            print("bench_system: no $DISPLAY and no xvfb-run: the SDL mode cannot run",
                  file=sys.stderr)
            return 1
        # Re-run under a virtual X server so that the SDL window has somewhere to go.
        return subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", sys.executable,
                               os.path.abspath(__file__), "--inner"] + args).returncode
    if not os.environ.get("DISPLAY"):
        print("bench_system: xvfb-run gave no $DISPLAY", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="e2kvm-bench-system-")
    try:
        disk = os.path.join(tmp, "demo.raw")
        shutil.copyfile(demo, disk)
        print("demo VM 1024x768 @ 60 frames/s, %.0f s per mode, %d CPUs, load %.1f"
              % (seconds, os.cpu_count(), os.getloadavg()[0]))
        print("%-14s %22s %26s %26s" % ("mode", "e2kvm CPU (% of a core)",
                                         "first frame (traced)", "first frame (from spawn)"))
        for mode in ("none", "sdl"):
            try:
                cpu, traced, spawn_ms = run_mode(system, disk, mode, seconds, os.environ)
            except BenchFailed as e:
                print("bench_system: FAIL: %s" % e, file=sys.stderr)
                return 1
            print("%-14s %22.1f %26s %26s" % ("-display " + mode, cpu, traced,
                                              "%.1f ms" % spawn_ms))
        print("peer: none (qemu-system has no E2K machine here); ratio: n/a")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

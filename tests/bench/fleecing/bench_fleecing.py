#!/usr/bin/env python3
"""Fleecing benchmark: guest-side write throughput on a running drive without and with an active
point in time, e2kvm-system and qemu-system-x86_64 (-machine none) in the same run, the same
QMP commands for both.

The drive is a 1 GiB qcow2 filled with data (so every write overwrites allocated clusters),
opened with -drive if=none,id=drive0,...,node-name=src. Each run starts one VM process per
program (their order alternates from run to run) and times, on the client's wall clock around
the QMP calls, two phases of `human-monitor-command 'qemu-io drive0 "write -P 0xNN OFF LEN"'`:
  A  SIZE bytes at [0, SIZE), no point in time;
  B  after blockdev-add of a qcow2 overlay (backing=src) and blockdev-backup sync=none, SIZE
     bytes at [SIZE, 2*SIZE): offsets never written since the point in time, so each write first
     copies the old clusters into the overlay (copy-before-write); then block-job-cancel.
qemu-io prints its own timing of each write on the process's standard output (QEMU and ours
alike); those lines are parsed too ("in-process" figures: the writes alone, no QMP round trip).
The wall-clock figure includes each program's cost of a QMP command (QEMU's monitor takes a
command in one byte at a time, some hundreds of system calls per write; hence the separate HMP
round-trip figure); the VM process's CPU time per phase (all threads, /proc schedstat) is shown
as well. With the default workload QEMU's phases take about 2 s each, ours a tenth of that.

Checks (exit status 1 if any fails): every QMP command succeeds and no process dies; every write
printed its "wrote" line; the overlay holds exactly the point in time of the overwritten range
(read back with qemu-io) and its allocated data equals the bytes overwritten in phase B, its
file at most that plus 4 MiB of metadata; after the processes quit, qemu-io reads the last
run's patterns back from both disks, both pass qemu-img check, qemu-img compare finds them
identical, and the two programs' overlays differ by no more than the metadata slack.

usage: bench_fleecing.py [--runs N] [--size SIZE] [--request LEN] E2KVM_SYSTEM
  --runs N       runs per program, figures are medians (default 3)
  --size SIZE    bytes written per phase (default 64M; at most 512M)
  --request LEN  bytes per qemu-io write (default 64k, one qcow2 cluster)
Run from the repository root after building e2kvm-system and its boot ROM (targets
e2kvm-system and e2kvm_guest, or ./dev test), e.g.
  python3 tests/bench/fleecing/bench_fleecing.py build/rel/app/e2kvm-system/e2kvm-system"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from checks import CommandFailed, run  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
DISK_SIZE = GiB
FILL_CHUNK = 64 * MiB  # the disk is filled with pattern 0xa0 + chunk index
CLUSTER = 64 * KiB
METADATA_SLACK = 4 * MiB
HMP_PROBES = 200  # HMP round trips ("info status") timed before phase A
QEMU = "qemu-system-x86_64"


class BenchFailed(RuntimeError):
    """The work did not happen as it should: the run is not worth a figure."""


def parse_size(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        raise argparse.ArgumentTypeError("not a size: %r" % text)
    return int(m.group(1)) * {"": 1, "k": KiB, "m": MiB, "g": GiB}[m.group(2).lower()]


def fill_pattern(offset):
    return 0xa0 + offset // FILL_CHUNK


def write_pattern(phase, run_index, i):
    """Phase A writes 0x01..0x4f, phase B 0x51..0x9f: never the fill patterns 0xa0..0xaf."""
    return (0x01 if phase == "A" else 0x51) + (run_index * 31 + i) % 0x4f


def qemu_io_checked(args, what):
    p = run(["qemu-io"] + args, ok=False, timeout=300)
    out = p.stdout + p.stderr
    if p.returncode != 0 or "verification failed" in out or "Pattern verification" in out:
        raise BenchFailed("%s: qemu-io failed (%d): %s" % (what, p.returncode, out[-2000:]))
    return out


class Vm:
    """One VM process (e2kvm-system or qemu-system-x86_64) on a qcow2 drive, with QMP."""

    def __init__(self, name, prog, image, workdir):
        self.name = name
        sock = os.path.join(workdir, "qmp.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        drive = "if=none,id=drive0,file=%s,format=qcow2,node-name=src" % image
        if name == "qemu":
            argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
        else:
            argv = [prog, "-S", "-display", "none", "-serial", "none"]
        argv += ["-qmp", "unix:%s,server=on,wait=off" % sock, "-drive", drive]
        # qemu-io's report lines go to the process's stdout: a file, never a pipe nobody reads.
        self.stdout_path = os.path.join(workdir, "stdout.txt")
        self.stderr_path = os.path.join(workdir, "stderr.txt")
        self.stdout = open(self.stdout_path, "w")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.stdout, stderr=self.stderr)
        deadline = time.time() + 30
        while not os.path.exists(sock):
            if self.proc.poll() is not None:
                raise BenchFailed("%s exited (%d) before its QMP socket appeared: %s"
                                  % (name, self.proc.returncode, self.stderr_text()))
            if time.time() > deadline:
                self.proc.kill()
                raise BenchFailed("%s: no QMP socket after 30 s" % name)
            time.sleep(0.02)
        self.qmp = QmpClient(sock, timeout=120)

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr_path, errors="replace") as f:
            return f.read()[-2000:]

    def ok(self, command, **args):
        try:
            r = self.qmp.cmd(command, **args)
        except (EOFError, OSError) as e:
            raise BenchFailed("%s: %s: connection lost (%s); process %s; stderr: %s"
                              % (self.name, command, e, self.proc.poll(), self.stderr_text()))
        if "return" not in r:
            raise BenchFailed("%s: %s %s: %r" % (self.name, command, json.dumps(args), r))
        return r["return"]

    def hmp(self, line):
        reply = self.ok("human-monitor-command", **{"command-line": line})
        if reply:  # qemu-io reports errors (read-only node, bad arguments) into the reply
            raise BenchFailed("%s: %s: %r" % (self.name, line, reply))

    def wait_job(self, job, status, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.qmp.events:
                if e["event"] == "JOB_STATUS_CHANGE" and e["data"] == {"id": job, "status": status}:
                    self.qmp.events.clear()
                    return
            time.sleep(0.02)
            self.ok("query-version")  # collects the events that came meanwhile
        raise BenchFailed("%s: job %s never reached %s; events %r"
                          % (self.name, job, status, self.qmp.events))

    def quit(self):
        try:
            self.qmp.cmd("quit")
        except (EOFError, OSError):
            pass
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise BenchFailed("%s did not quit" % self.name)
        finally:
            self.qmp.close()
            self.stdout.close()
            self.stderr.close()
        if rc != 0:
            raise BenchFailed("%s exited %d: %s" % (self.name, rc, self.stderr_text()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


REPORT = re.compile(r"^([\d.]+ [KMGT]?i?B|\d+ bytes), (\d+) ops; [\d:.]+ (?:sec )?"
                    r"\(([\d.]+) ([KMGT]?i?B|bytes)/sec and ([\d.]+) ops/sec\)$")


def in_process_seconds(stdout_path, phases, requests, request):
    """qemu-io's own time of each write, summed per phase: the process printed one "wrote" line
    and one report line per write, phase A's first. The rate is printed to more digits than the
    time, so each write's time is its bytes over its rate."""
    with open(stdout_path, errors="replace") as f:
        lines = f.read().splitlines()
    wrote = [ln for ln in lines if ln.startswith("wrote ")]
    reports = [m for m in (REPORT.match(ln) for ln in lines) if m]
    expected = len(phases) * requests
    good = sum(1 for ln in wrote if ln.startswith("wrote %d/%d bytes" % (request, request)))
    if len(wrote) != expected or good != expected or len(reports) != expected:
        raise BenchFailed("%s: %d wrote lines (%d complete) and %d reports, expected %d"
                          % (stdout_path, len(wrote), good, len(reports), expected))
    unit = {"bytes": 1, "KiB": KiB, "MiB": MiB, "GiB": GiB, "TiB": GiB * KiB}
    times = [request / (float(m.group(3)) * unit[m.group(4)]) for m in reports]
    return {p: sum(times[k * requests:(k + 1) * requests]) for k, p in enumerate(phases)}


def cpu_seconds(pid):
    """CPU time of all the process's threads so far (schedstat: nanoseconds on a CPU); a thread
    that ended meanwhile (QEMU retires idle thread-pool workers) takes its time with it."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / 1e9


def write_phase(vm, phase, run_index, base, requests, request):
    """Issues the phase's writes; returns the client's wall time around them and the VM
    process's CPU time meanwhile."""
    cmds = ['qemu-io drive0 "write -P 0x%02x %d %d"'
            % (write_pattern(phase, run_index, i), base + i * request, request)
            for i in range(requests)]
    c0 = cpu_seconds(vm.proc.pid)
    t0 = time.perf_counter()
    for c in cmds:
        vm.hmp(c)
    wall = time.perf_counter() - t0
    return wall, cpu_seconds(vm.proc.pid) - c0


def image_info(path):
    info = json.loads(run("qemu-img", "info", "--output=json", "-U", path).stdout)
    extents = json.loads(run("qemu-img", "map", "--output=json", "-U", path).stdout)
    data = sum(e["length"] for e in extents if e["data"] and e["depth"] == 0)
    return info["actual-size"], data


def one_run(name, prog, disk, workdir, run_index, args):
    requests = args.size // args.request
    overlay = os.path.join(workdir, "fleece-%d.qcow2" % run_index)
    run("qemu-img", "create", "-f", "qcow2", overlay, str(DISK_SIZE))
    rundir = os.path.join(workdir, "run%d" % run_index)
    os.makedirs(rundir, exist_ok=True)
    vm = Vm(name, prog, disk, rundir)
    try:
        t0 = time.perf_counter()
        for _ in range(HMP_PROBES):
            vm.ok("human-monitor-command", **{"command-line": "info status"})
        hmp_us = (time.perf_counter() - t0) / HMP_PROBES * 1e6
        wall_a, cpu_a = write_phase(vm, "A", run_index, 0, requests, args.request)
        vm.ok("blockdev-add", driver="qcow2", **{"node-name": "fleeceNode"},
              file={"driver": "file", "filename": overlay}, backing="src")
        vm.ok("blockdev-backup", **{"job-id": "fleecing"}, device="src", target="fleeceNode",
              sync="none")
        vm.wait_job("fleecing", "running")
        wall_b, cpu_b = write_phase(vm, "B", run_index, args.size, requests, args.request)
        vm.ok("block-job-cancel", device="fleecing")
        vm.wait_job("fleecing", "null")
        vm.ok("blockdev-del", **{"node-name": "fleeceNode"})
        vm.quit()
    except BaseException:
        vm.kill()
        raise
    inproc = in_process_seconds(vm.stdout_path, ("A", "B"), requests, args.request)
    # The overlay is the point in time of what phase B overwrote: the fill, or what the
    # previous run's phase B wrote there; nothing else is allocated in it.
    reads = []
    for i in range(requests):
        off = args.size + i * args.request
        pat = fill_pattern(off) if run_index == 0 else write_pattern("B", run_index - 1, i)
        reads += ["-c", "read -q -P 0x%02x %d %d" % (pat, off, args.request)]
    qemu_io_checked(["-r", "-f", "qcow2"] + reads + [overlay],
                    "%s run %d overlay" % (name, run_index))
    actual, data = image_info(overlay)
    changed = args.size  # request-aligned to clusters: each byte written is a changed cluster byte
    if data != changed:
        raise BenchFailed("%s run %d: the overlay holds %d data bytes, phase B changed %d"
                          % (name, run_index, data, changed))
    if actual > changed + METADATA_SLACK:
        raise BenchFailed("%s run %d: the overlay file takes %d bytes, more than the %d changed "
                          "bytes + %d metadata slack" % (name, run_index, actual, changed,
                                                         METADATA_SLACK))
    os.unlink(overlay)
    mib = args.size / MiB
    return {"hmp_us": hmp_us, "A": mib / wall_a, "B": mib / wall_b,
            "A_in": mib / inproc["A"], "B_in": mib / inproc["B"],
            "A_cpu": cpu_a / mib * 1e3, "B_cpu": cpu_b / mib * 1e3,
            "overlay_actual": actual, "overlay_data": data}


def verify_disk(name, disk, args):
    """The last run's patterns are on the disk, the rest of it still holds the fill."""
    last = args.runs - 1
    requests = args.size // args.request
    cmds = []
    for phase, base in (("A", 0), ("B", args.size)):
        for i in sorted({0, 1, requests // 2, requests - 1}):
            cmds += ["-c", "read -q -P 0x%02x %d %d"
                     % (write_pattern(phase, last, i), base + i * args.request, args.request)]
    for off in (2 * args.size, DISK_SIZE - MiB):
        if off >= 2 * args.size and off + MiB <= DISK_SIZE:
            cmds += ["-c", "read -q -P 0x%02x %d %d" % (fill_pattern(off), off, MiB)]
    qemu_io_checked(["-r", "-f", "qcow2"] + cmds + [disk], "%s disk read-back" % name)
    c = run("qemu-img", "check", disk, ok=False)
    if c.returncode != 0:
        raise BenchFailed("%s: qemu-img check: %s" % (name, c.stdout + c.stderr))


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "n/a"


def main():
    ap = argparse.ArgumentParser(description="Fleecing write-throughput benchmark, "
                                 "e2kvm-system vs qemu-system-x86_64.")
    ap.add_argument("system", metavar="E2KVM_SYSTEM")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=parse_size, default=64 * MiB)
    ap.add_argument("--request", type=parse_size, default=64 * KiB)
    args = ap.parse_args()
    if args.request % CLUSTER or FILL_CHUNK % args.request or args.request > 16 * MiB:
        ap.error("--request must be a power-of-two multiple of 64k, at most 16M")
    if args.size % args.request or not 0 < args.size <= DISK_SIZE // 2:
        ap.error("--size must be a multiple of --request, at most 512M")
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if not os.access(args.system, os.X_OK):
        print("bench_fleecing: %s is not built" % args.system, file=sys.stderr)
        return 1
    for tool in (QEMU, "qemu-img", "qemu-io"):
        if not shutil.which(tool):
            print("bench_fleecing: %s is missing (./dev installs it)" % tool, file=sys.stderr)
            return 1
    progs = {"ours": args.system, "qemu": QEMU}
    tmp = tempfile.mkdtemp(prefix="e2kvm-bench-fleecing-")
    try:
        master = os.path.join(tmp, "filled.qcow2")
        run("qemu-img", "create", "-f", "qcow2", master, str(DISK_SIZE))
        fill = []
        for off in range(0, DISK_SIZE, FILL_CHUNK):
            fill += ["-c", "write -q -P 0x%02x %d %d" % (fill_pattern(off), off, FILL_CHUNK)]
        qemu_io_checked(["-f", "qcow2"] + fill + [master], "filling the disk")
        disks = {}
        for name in progs:
            os.makedirs(os.path.join(tmp, name))
            disks[name] = os.path.join(tmp, name, "disk.qcow2")
            shutil.copyfile(master, disks[name])
        os.unlink(master)
        requests = args.size // args.request
        print("fleecing: %d x %d KiB qemu-io writes per phase (%d MiB) over QMP HMP on a 1 GiB "
              "filled qcow2, %d run(s), medians; %d CPUs, load %.1f"
              % (requests, args.request // KiB, args.size // MiB, args.runs, os.cpu_count(),
                 os.getloadavg()[0]))
        results = {name: [] for name in progs}
        for r in range(args.runs):
            order = list(progs) if r % 2 == 0 else list(reversed(list(progs)))
            for name in order:
                res = one_run(name, progs[name], disks[name], os.path.join(tmp, name), r, args)
                results[name].append(res)
                print("  run %d %-4s  A %7.1f MiB/s  B %7.1f MiB/s  (in-process A %7.1f, B %7.1f)"
                      "  CPU ms/MiB A %5.2f, B %5.2f  HMP round trip %4.0f us"
                      % (r + 1, name, res["A"], res["B"], res["A_in"], res["B_in"], res["A_cpu"],
                         res["B_cpu"], res["hmp_us"]))
        for name in progs:
            verify_disk(name, disks[name], args)
        c = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", disks["ours"],
                disks["qemu"], ok=False)
        if c.returncode != 0:
            raise BenchFailed("the two disks differ after the same writes: %s"
                              % (c.stdout + c.stderr))

        def med(name, key):
            return statistics.median(x[key] for x in results[name])

        def table(title, key, value_format):
            print()
            print(title)
            print("%-14s %16s %16s %13s" % ("", "without PIT", "with PIT", "with/without"))
            for name in progs:
                a, b = med(name, "A" + key), med(name, "B" + key)
                print("%-14s %16s %16s %13s" % (name, value_format % a, value_format % b,
                                                fmt_ratio(b, a)))
            print("%-14s %16s %16s" % ("ours/QEMU", fmt_ratio(med("ours", "A" + key),
                                                              med("qemu", "A" + key)),
                                       fmt_ratio(med("ours", "B" + key), med("qemu", "B" + key))))

        table("MiB/s on the client's wall clock around the QMP calls (the primary figure: each "
              "write with its QMP round trip; ours/QEMU > 1: ours is faster):", "", "%.1f")
        table("MiB/s in-process (qemu-io's own timing of each write, parsed from the process's "
              "stdout: the block layer alone):", "_in", "%.1f")
        table("VM process CPU time (all threads) per MiB written, ms (ours/QEMU < 1: ours uses "
              "less):", "_cpu", "%.2f")
        print()
        print("HMP round trip ('info status'): ours %.0f us, QEMU %.0f us"
              % (med("ours", "hmp_us"), med("qemu", "hmp_us")))
        print()
        print("fleecing overlay after phase B (bytes overwritten: %d, slack allowed: %d):"
              % (args.size, METADATA_SLACK))
        for name in progs:
            last = results[name][-1]
            print("%-14s allocated data %d (qemu-img map), file %d (actual-size), "
                  "metadata + rest %d" % (name, last["overlay_data"], last["overlay_actual"],
                                          last["overlay_actual"] - args.size))
        for r in range(args.runs):
            a, b = results["ours"][r]["overlay_actual"], results["qemu"][r]["overlay_actual"]
            if abs(a - b) > METADATA_SLACK:
                raise BenchFailed("run %d: overlay sizes differ by more than %d: ours %d, qemu %d"
                                  % (r + 1, METADATA_SLACK, a, b))
        print()
        print("checks passed: QMP replies, every write reported, overlays hold the point in time "
              "and only the changed clusters, read-back, qemu-img check and compare of both disks")
        return 0
    except (BenchFailed, CommandFailed, subprocess.TimeoutExpired, OSError, EOFError) as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Fleecing and backup jobs over QMP, run against qemu-system-x86_64 (-machine none) and
e2kvm-system with the same steps, whose replies and job events must be the same:
1. QEMU iotest 222 (image-fleecing): a qcow2 overlay backed by the running drive, a
   `blockdev-backup sync=none` into it, an NBD export of it; four overwrites of the drive
   through `human-monitor-command qemu-io` do not show in the export, the drive holds them;
   `block-job-cancel` ends it (BLOCK_JOB_CANCELLED); the drive passes `qemu-img check`.
2. 222 with 223: a bitmap disabled in the same transaction that starts the point in time is
   exported with the overlay; `qemu-img map` (x-dirty-bitmap) and `nbdinfo --map` show exactly
   the writes before the point in time, reads return that point's data.
3. Job verbs and errors: pause/resume/set-speed, unknown jobs, busy nodes and bitmaps, QEMU's
   argument errors, a full and an incremental backup (auto-finalize off, finalize, dismiss).
usage: system_fleecing.py E2KVM_SYSTEM"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)
check = checker.check
QEMU = shutil.which("qemu-system-x86_64")
peers.require("qemu-system-x86_64", "qemu-img", "qemu-io", "nbdinfo")

MiB = 1 << 20
PATTERNS = [("0x5d", 0, "64k"), ("0xd5", MiB, "64k"), ("0xdc", 32 * MiB, "64k"),
            ("0xcd", 0x3ff0000, "64k")]
OVERWRITES = [("0xab", 0, "64k"), ("0xad", 0x00f8000, "64k"), ("0x1d", 0x2008000, "64k"),
              ("0xea", 0x3fe0000, "64k")]
REMAINDER = [("0xd5", 0x108000, "32k"), ("0xdc", 32 * MiB, "32k"), ("0xcd", 0x3ff0000, "64k")]
JOB_EVENTS = ("JOB_STATUS_CHANGE", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED",
              "BLOCK_JOB_ERROR", "BLOCK_JOB_PENDING", "BLOCK_EXPORT_DELETED")


def qemu_io(*args, ok=True):
    p = run("qemu-io", *args, ok=False, timeout=60)
    out = p.stdout + p.stderr
    if ok:
        check(p.returncode == 0 and "verification failed" not in out,
              "qemu-io %s: %s" % (" ".join(args), out))
    return out


class Vm:
    """One VM process (ours or QEMU's) with a QMP client; every exchange goes to a transcript."""

    def __init__(self, prog, tmp, image, name):
        self.name = name
        self.tmp = tmp
        self.sock = os.path.join(tmp, "qmp.sock")
        self.nbd = os.path.join(tmp, "nbd.sock")
        drive = "if=none,id=drive0,file=%s,format=qcow2,node-name=src" % image
        if prog == QEMU:
            argv = [QEMU, "-machine", "none", "-nodefaults", "-display", "none"]
        else:
            argv = [prog, "-display", "none", "-serial", "none", "-S"]
        argv += ["-qmp", "unix:%s,server=on,wait=off" % self.sock, "-drive", drive]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.qmp = QmpClient(self.sock)
        self.transcript = []

    def cmd(self, command, **args):
        r = self.qmp.cmd(command, **args)
        line = "%s %s -> %s" % (command, json.dumps(args, sort_keys=True),
                                json.dumps(r, sort_keys=True))
        self.transcript.append(line.replace(self.tmp, "TMP"))
        return r

    def ok(self, command, **args):
        r = self.cmd(command, **args)
        check("return" in r, "%s: %s %s: %r" % (self.name, command, args, r))
        return r.get("return")

    user_paused = False

    def hmp(self, line):
        return self.ok("human-monitor-command", **{"command-line": line})

    def wait_job_event(self, job, status, timeout=30):
        """Waits for JOB_STATUS_CHANGE `status` of `job`; adds the job events so far."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.qmp.events:
                if (e["event"] == "JOB_STATUS_CHANGE" and e["data"] == {"id": job, "status": status}):
                    self.take_events()
                    return True
            time.sleep(0.05)
            self.qmp.cmd("query-version")  # collects the events that came meanwhile
        check(False, "%s: job %s never reached %s; events %r" % (self.name, job, status,
                                                                 self.qmp.events))
        self.take_events()
        return False

    def take_events(self):
        # QEMU pauses a job for a moment whenever the graph around it is drained (an export
        # added, a node opened); such paused/running pairs that no client asked for are left
        # out of the comparison.
        kept = []
        for e in self.qmp.events:
            if e["event"] not in JOB_EVENTS:
                continue
            if (kept and not self.user_paused and e["event"] == "JOB_STATUS_CHANGE"
                    and e["data"]["status"] == "running" and kept[-1]["event"] == "JOB_STATUS_CHANGE"
                    and kept[-1]["data"] == {"id": e["data"]["id"], "status": "paused"}):
                kept.pop()
                continue
            kept.append(e)
        self.qmp.events = kept
        for e in self.qmp.events:
            if e["event"] in JOB_EVENTS:
                self.transcript.append("EVENT %s %s" % (e["event"],
                                                         json.dumps(e.get("data"), sort_keys=True)))
        self.qmp.events.clear()

    def quit(self):
        self.cmd("quit")
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            check(False, "%s did not quit" % self.name)
        self.qmp.close()

    def export_uri(self, export):
        return "nbd+unix:///%s?socket=%s" % (export, self.nbd)


def run_dir(tmp, name):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    return d


def make_base(path):
    run("qemu-img", "create", "-f", "qcow2", path, "64M")
    for p, off, ln in PATTERNS:
        qemu_io("-f", "qcow2", "-c", "write -P %s %d %s" % (p, off, ln), path)


def fleecing_222(prog, tmp, name):
    tmp = run_dir(tmp, name + "-222")
    base, fleece = os.path.join(tmp, "base.qcow2"), os.path.join(tmp, "fl.qcow2")
    make_base(base)
    run("qemu-img", "create", "-f", "qcow2", fleece, "64M")
    vm = Vm(prog, tmp, base, name)
    vm.ok("blockdev-add", driver="qcow2", **{"node-name": "fleeceNode"},
          file={"driver": "file", "filename": fleece}, backing="src")
    vm.ok("blockdev-backup", **{"job-id": "fleecing"}, device="src", target="fleeceNode",
          sync="none")
    vm.wait_job_event("fleecing", "running")
    vm.ok("nbd-server-start", addr={"type": "unix", "data": {"path": vm.nbd}})
    vm.ok("nbd-server-add", device="fleeceNode")
    uri = vm.export_uri("fleeceNode")
    for p, off, ln in PATTERNS:
        qemu_io("-r", "-f", "raw", "-c", "read -P %s %d %s" % (p, off, ln), uri)
    for p, off, ln in OVERWRITES:
        vm.hmp('qemu-io drive0 "write -P %s %d %s"' % (p, off, ln))
    for p, off, ln in PATTERNS:  # the point in time is unchanged
        qemu_io("-r", "-f", "raw", "-c", "read -P %s %d %s" % (p, off, ln), uri)
    # The fleecing overlay grew by the overwritten clusters only (5 clusters of 64 KiB, the
    # second and third overwrites each straddle two).
    vm.cmd("blockdev-del", **{"node-name": "fleeceNode"})  # busy: refused
    vm.cmd("blockdev-backup", **{"job-id": "other"}, device="src", target="fleeceNode", sync="full")
    vm.ok("block-job-cancel", device="fleecing")
    vm.wait_job_event("fleecing", "null")
    vm.ok("nbd-server-stop")
    vm.ok("blockdev-del", **{"node-name": "fleeceNode"})
    vm.quit()
    for p, off, ln in OVERWRITES + REMAINDER:
        qemu_io("-f", "qcow2", "-c", "read -P %s %d %s" % (p, off, ln), base)
    c = run("qemu-img", "check", base, ok=False)
    check(c.returncode == 0, "%s: qemu-img check: %s" % (name, c.stdout + c.stderr))
    return vm.transcript


def fleecing_with_bitmap(prog, tmp, name):
    tmp = run_dir(tmp, name + "-223")
    base, fleece = os.path.join(tmp, "b.qcow2"), os.path.join(tmp, "bf.qcow2")
    make_base(base)
    run("qemu-img", "create", "-f", "qcow2", fleece, "64M")
    vm = Vm(prog, tmp, base, name + "b")
    vm.ok("block-dirty-bitmap-add", node="src", name="b")
    vm.hmp('qemu-io drive0 "write -P 0x31 1M 64k"')
    vm.hmp('qemu-io drive0 "write -P 0x32 10M 128k"')
    vm.ok("blockdev-add", driver="qcow2", **{"node-name": "fleeceNode"},
          file={"driver": "file", "filename": fleece}, backing="src")
    vm.ok("transaction", actions=[
        {"type": "block-dirty-bitmap-disable", "data": {"node": "src", "name": "b"}},
        {"type": "blockdev-backup", "data": {"job-id": "fl", "device": "src",
                                             "target": "fleeceNode", "sync": "none"}}])
    vm.wait_job_event("fl", "running")
    vm.hmp('qemu-io drive0 "write -P 0x41 20M 64k"')
    vm.hmp('qemu-io drive0 "write -P 0x42 1M 64k"')
    vm.ok("nbd-server-start", addr={"type": "unix", "data": {"path": vm.nbd}})
    vm.ok("block-export-add", type="nbd", id="e", **{"node-name": "fleeceNode"}, name="fl",
          bitmaps=["b"])
    opts = "driver=nbd,export=fl,server.type=unix,server.path=%s" % vm.nbd
    maps = run("qemu-img", "map", "--output=json", "--image-opts",
               opts + ",x-dirty-bitmap=qemu:dirty-bitmap:b").stdout
    maps = re.sub(r'"offset": \d+', '"offset": OFFSET', maps).strip()
    info = run("nbdinfo", "--map=qemu:dirty-bitmap:b", vm.export_uri("fl")).stdout.strip()
    uri = vm.export_uri("fl")
    qemu_io("-r", "-f", "raw", "-c", "read -P 0x31 1M 64k", "-c", "read -P 0x32 10M 128k",
            "-c", "read -P 0 20M 64k", uri)
    vm.cmd("block-dirty-bitmap-remove", node="src", name="b")  # busy: exported
    vm.ok("block-export-del", id="e")
    vm.ok("block-job-cancel", device="fl")
    vm.wait_job_event("fl", "null")
    vm.ok("nbd-server-stop")
    vm.take_events()
    vm.quit()
    qemu_io("-f", "qcow2", "-c", "read -P 0x42 1M 64k", "-c", "read -P 0x41 20M 64k", base)
    return vm.transcript, maps, info


def jobs_and_errors(prog, tmp, name):
    tmp = run_dir(tmp, name + "-jobs")
    base = os.path.join(tmp, "j.qcow2")
    full, inc = os.path.join(tmp, "full.qcow2"), os.path.join(tmp, "inc.qcow2")
    make_base(base)
    run("qemu-img", "create", "-f", "qcow2", full, "64M")
    vm = Vm(prog, tmp, base, name + "j")
    vm.ok("block-dirty-bitmap-add", node="src", name="b0")
    vm.ok("blockdev-add", driver="qcow2", **{"node-name": "full"},
          file={"driver": "file", "filename": full})
    for args in ({"device": "src", "target": "nosuch", "sync": "full"},
                 {"device": "src", "target": "src", "sync": "full"},
                 {"device": "src", "target": "full", "sync": "incremental"},
                 {"device": "src", "target": "full", "sync": "bitmap", "bitmap": "b0"},
                 {"device": "src", "target": "full", "sync": "full", "bitmap": "nob",
                  "bitmap-mode": "on-success"},
                 {"device": "src", "target": "full", "sync": "full", "bitmap-mode": "always"},
                 {"device": "src", "target": "full", "sync": "none", "job-id": "9bad"}):
        vm.cmd("blockdev-backup", **args)
    # Without a job id, the job is named after the drive on the node.
    vm.ok("blockdev-backup", device="src", target="full", sync="full")
    vm.wait_job_event("drive0", "null")
    # A transaction that fails starts no job.
    vm.cmd("transaction", actions=[
        {"type": "blockdev-backup", "data": {"job-id": "t1", "device": "src", "target": "full",
                                             "sync": "full"}},
        {"type": "abort", "data": {}}])
    vm.cmd("query-jobs")
    vm.cmd("block-job-pause", device="nosuch")
    vm.cmd("job-finalize", id="nosuch")
    vm.cmd("block-job-cancel", device="nosuch")
    # A full backup that waits to be finalized and dismissed.
    vm.ok("blockdev-backup", **{"job-id": "j1", "auto-finalize": False, "auto-dismiss": False},
          device="src", target="full", sync="full", bitmap="b0", **{"bitmap-mode": "on-success"})
    vm.wait_job_event("j1", "pending")
    vm.cmd("query-jobs")
    vm.cmd("block-dirty-bitmap-clear", node="src", name="b0")  # busy
    vm.cmd("job-dismiss", id="j1")                              # not yet
    vm.ok("job-finalize", id="j1")
    vm.wait_job_event("j1", "concluded")
    vm.cmd("query-block-jobs")
    vm.ok("job-dismiss", id="j1")
    vm.wait_job_event("j1", "null")
    # An incremental backup of what changed since, into an overlay of the full one.
    vm.hmp('qemu-io drive0 "write -P 0x77 5M 64k"')
    run("qemu-img", "create", "-f", "qcow2", "-b", full, "-F", "qcow2", inc)
    vm.ok("blockdev-del", **{"node-name": "full"})  # inc opens it as its backing file
    vm.ok("blockdev-add", driver="qcow2", **{"node-name": "inc"},
          file={"driver": "file", "filename": inc})
    vm.ok("blockdev-backup", **{"job-id": "j2"}, device="src", target="inc",
          sync="incremental", bitmap="b0")
    vm.wait_job_event("j2", "null")
    # A fleecing job paused, resumed, slowed and cancelled.
    vm.ok("blockdev-del", **{"node-name": "inc"})
    vm.ok("blockdev-add", driver="qcow2", **{"node-name": "inc"},
          file={"driver": "file", "filename": inc}, backing="src")
    vm.ok("blockdev-backup", **{"job-id": "fl"}, device="src", target="inc", sync="none")
    vm.wait_job_event("fl", "running")
    vm.user_paused = True
    vm.ok("block-job-pause", device="fl")
    vm.wait_job_event("fl", "paused")
    vm.cmd("block-job-pause", device="fl")
    vm.cmd("query-block-jobs")
    vm.ok("block-job-resume", device="fl")
    vm.wait_job_event("fl", "running")
    vm.user_paused = False
    vm.cmd("block-job-resume", device="fl")
    vm.ok("block-job-set-speed", device="fl", speed=1000)
    vm.ok("block-job-cancel", device="fl")
    vm.wait_job_event("fl", "null")
    vm.ok("blockdev-del", **{"node-name": "inc"})
    vm.quit()
    # The incremental point over the full one is the disk after the 0x77 write.
    c = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", inc, base, ok=False)
    check(c.returncode == 0, "%s: incremental chain differs from the disk: %s" % (name, c.stdout))
    return vm.transcript


def compare(what, ours, qemu):
    if ours != qemu:
        checker.same(what + " (qemu-system vs e2kvm-system)", "\n".join(qemu), "\n".join(ours),
                     "qemu-system", "e2kvm-system")


tmp = tempfile.mkdtemp(prefix="e2kvm-fleecing-")
try:
    compare("iotest 222", fleecing_222(SYSTEM, tmp, "ours"), fleecing_222(QEMU, tmp, "qemu"))
    ours = fleecing_with_bitmap(SYSTEM, tmp, "ours")
    theirs = fleecing_with_bitmap(QEMU, tmp, "qemu")
    compare("222 + 223 transcript", ours[0], theirs[0])
    checker.same("qemu-img map of the exported bitmap", theirs[1], ours[1], "qemu", "ours")
    checker.same("nbdinfo --map of the exported bitmap", theirs[2], ours[2], "qemu", "ours")
    expected = [(MiB, 65536), (10 * MiB, 131072)]
    dirty = [(int(a), int(b)) for a, b in
             re.findall(r'"start": (\d+), "length": (\d+), [^}]*"data": false', ours[1])]
    check(dirty == expected, "dirty ranges %r, expected %r" % (dirty, expected))
    compare("job verbs and errors", jobs_and_errors(SYSTEM, tmp, "ours"),
            jobs_and_errors(QEMU, tmp, "qemu"))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_fleecing: all checks passed"))

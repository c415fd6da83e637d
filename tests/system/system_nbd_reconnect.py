#!/usr/bin/env python3
"""An NBD node with reconnect-delay as a job's target, against qemu-system-x86_64
(-machine none -nodefaults) given the same QMP, with qemu-nbd as the server (iotest 264's
situation, outside the iotests):
1. blockdev-add of raw over driver=nbd (server type unix, reconnect-delay 10) is accepted, and
   a blockdev-backup into it at 1 MiB/s goes on when the server is killed (SIGKILL) and, a
   second later, started again on the same socket: the job completes without error and the
   target holds the source.
2. the same, but block-job-cancel with force while the server is away: the job is cancelled
   within 5 seconds, for a backup and for a mirror.
3. a request that waits longer than reconnect-delay (2 s) fails: the backup fails with an I/O
   error.
Compared: whether each step happened (not the timing or offsets).
usage: system_nbd_reconnect.py E2KVM_SYSTEM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SKIP = 77
SYSTEM = sys.argv[1]
QEMU = shutil.which("qemu-system-x86_64")
checker = Checker(sys.stderr)
check = checker.check
if peers.missing("qemu-system-x86_64", "qemu-img", "qemu-io", "qemu-nbd"):
    print("SKIP: needs qemu-system-x86_64, qemu-img, qemu-io and qemu-nbd")
    sys.exit(SKIP)

MiB = 1 << 20
SIZE = 6 * MiB


def start_vm(prog, tmp):
    sock = os.path.join(tmp, "qmp.sock")
    argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    if prog != QEMU:
        argv += ["-serial", "none", "-S"]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, QmpClient(sock)


class NbdServer:
    """qemu-nbd as iotests start it (--persistent, serving once its pid file exists)."""

    def __init__(self, sock, image):
        self.pidfile = sock + ".pid"
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)
        self.proc = subprocess.Popen(["qemu-nbd", "--persistent", "--pid-file", self.pidfile,
                                      "-k", sock, "-f", "raw", image],
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while not os.path.exists(self.pidfile) and time.time() < deadline:
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)


def setup(prog, tmp, delay):
    # A raw target: what a killed server wrote stays (a qcow2's cached metadata would not).
    src, tgt, sock = (os.path.join(tmp, n) for n in ("src.qcow2", "tgt.raw", "nbd.sock"))
    run("qemu-img", "create", "-f", "qcow2", src, str(SIZE))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5c 0 %d" % SIZE, src)
    run("qemu-img", "create", "-f", "raw", tgt, str(SIZE))
    server = NbdServer(sock, tgt)
    try:
        p, qmp = start_vm(prog, tmp)
    except Exception:
        server.kill()
        raise
    qmp.cmd("blockdev-add", **{"node-name": "src", "driver": "qcow2",
                               "file": {"driver": "file", "filename": src}})
    added = qmp.cmd("blockdev-add", **{
        "node-name": "tgt", "driver": "raw",
        "file": {"driver": "nbd", "server": {"type": "unix", "path": sock},
                 "reconnect-delay": delay}})
    return src, tgt, sock, server, p, qmp, "return" in added


def start_job(qmp, command):
    r = qmp.cmd(command, **{"job-id": "j", "device": "src", "target": "tgt", "sync": "full",
                            "speed": MiB})
    deadline = time.time() + 5
    while time.time() < deadline:
        jobs = qmp.cmd("query-block-jobs")["return"]
        if jobs and jobs[0]["offset"] > 0:
            break
        time.sleep(0.1)
    return "return" in r


def stop_vm(p, qmp):
    try:
        qmp.cmd("quit")
    except Exception:  # noqa: BLE001 - the VM may already be gone
        pass
    qmp.close()
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def comes_back(prog, tmp):
    out = {}
    src, tgt, sock, server, p, qmp, added = setup(prog, tmp, 10)
    out["blockdev-add nbd"] = added
    try:
        if not added:  # nothing to go on with
            return out
        out["job started"] = start_job(qmp, "blockdev-backup")
        server.kill()
        jobs = qmp.cmd("query-block-jobs")["return"]
        out["unfinished when the server went"] = bool(jobs) and jobs[0]["offset"] < jobs[0]["len"]
        qmp.cmd("block-job-set-speed", device="j", speed=0)
        time.sleep(1)
        server = NbdServer(sock, tgt)
        e = qmp.wait_event("BLOCK_JOB_COMPLETED", timeout=30)
        out["completed"] = bool(e) and "error" not in e["data"] and e["data"]["offset"] == SIZE
        out["blockdev-del"] = "return" in qmp.cmd("blockdev-del", **{"node-name": "tgt"})
    finally:
        stop_vm(p, qmp)
        server.kill()
    out["target holds the source"] = run("qemu-img", "compare", "-f", "qcow2", "-F", "raw",
                                          src, tgt, ok=False).returncode == 0
    return out


def cancelled_while_away(prog, tmp, command):
    out = {}
    _, _, _, server, p, qmp, added = setup(prog, tmp, 10)
    out["blockdev-add nbd"] = added
    try:
        if not added:  # nothing to go on with
            return out
        out["job started"] = start_job(qmp, command)
        server.kill()
        qmp.cmd("block-job-set-speed", device="j", speed=0)
        time.sleep(1)
        t = time.time()
        out["cancel"] = "return" in qmp.cmd("block-job-cancel", device="j", force=True)
        e = qmp.wait_event("BLOCK_JOB_CANCELLED", timeout=15)
        out["cancelled within 5 s"] = bool(e) and time.time() - t < 5
    finally:
        stop_vm(p, qmp)
    return out


def delay_ends(prog, tmp):
    out = {}
    _, _, _, server, p, qmp, added = setup(prog, tmp, 2)
    out["blockdev-add nbd"] = added
    try:
        if not added:  # nothing to go on with
            return out
        out["job started"] = start_job(qmp, "blockdev-backup")
        server.kill()
        qmp.cmd("block-job-set-speed", device="j", speed=0)
        e = qmp.wait_event("BLOCK_JOB_COMPLETED", timeout=20)
        out["failed"] = bool(e) and "error" in e["data"]
    finally:
        stop_vm(p, qmp)
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-nbdrc-")
try:
    for name, fn in (("server comes back", comes_back),
                     ("backup cancelled", lambda prog, d: cancelled_while_away(
                         prog, d, "blockdev-backup")),
                     ("mirror cancelled", lambda prog, d: cancelled_while_away(
                         prog, d, "blockdev-mirror")),
                     ("delay ends", delay_ends)):
        results = {}
        for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
            d = os.path.join(tmp, "%s-%s" % (name.replace(" ", "-"), who))
            os.makedirs(d)
            results[who] = fn(prog, d)
        checker.same(name, json.dumps(results["qemu"], indent=1, sort_keys=True),
                     json.dumps(results["ours"], indent=1, sort_keys=True),
                     "qemu-system", "e2kvm-system")
        check(all(results["ours"].values()), "%s: %r" % (name, results["ours"]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_nbd_reconnect: all checks passed"))

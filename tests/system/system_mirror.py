#!/usr/bin/env python3
"""Mirror jobs against qemu-system-x86_64 (-machine none -nodefaults) given the same QMP; the
replies, each job's events (without timestamps), query-block-jobs of a ready job, query-block
after a pivot, and the images (qemu-img compare, qemu-img map of the target) must be QEMU's:
1. blockdev-mirror sync=full to an existing node: ready, a write to the source while ready,
   pause (standby) and resume, block-job-complete; the target equals the source and keeps
   zero and unallocated ranges sparse.
2. drive-mirror sync=top of a drive (-drive if=none) with a backing file, to a new image:
   complete pivots the drive to the target (query-block), whose backing file is the base.
3. drive-mirror sync=full, then block-job-cancel without force on the ready job: it completes
   without pivot; job-cancel of a ready job cancels it.
4. HMP drive_mirror -f of a drive, then block-job-cancel of the ready job.
5. argument errors: granularity, buf-size, sync modes, the source as its own target, complete
   of a job that is not ready, cancel without force of a paused job.
usage: system_mirror.py E2KVM_SYSTEM"""
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
if peers.missing("qemu-system-x86_64", "qemu-img", "qemu-io"):
    print("SKIP: needs qemu-system-x86_64, qemu-img and qemu-io")
    sys.exit(SKIP)

MiB = 1 << 20


def start(prog, tmp, extra=()):
    sock = os.path.join(tmp, "qmp.sock")
    argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    if prog != QEMU:
        argv += ["-serial", "none", "-S"]
    argv += list(extra) + ["-qmp", "unix:%s,server=on,wait=off" % sock]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, QmpClient(sock)


def stop(p, qmp):
    qmp.cmd("quit")
    try:
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()


def image(path, fmt="qcow2", size=4 * MiB, writes=(), backing=None):
    argv = ["qemu-img", "create", "-f", fmt]
    if backing:
        argv += ["-b", backing, "-F", "qcow2"]
    run(*(argv + [path, str(size)]))
    for cmd in writes:
        run("qemu-io", "-f", fmt, "-c", cmd, path)


def add_node(qmp, name, path):
    return qmp.cmd("blockdev-add", **{"node-name": name, "driver": "qcow2",
                                      "file": {"driver": "file", "filename": path}})


def hmp(qmp, line):
    return qmp.cmd("human-monitor-command", **{"command-line": line})


def wait_for(qmp, event, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in qmp.events:
            if e["event"] == event:
                return e
        time.sleep(0.05)
        qmp.cmd("query-version")
    return None


def job_events(qmp, settle_timeout=30):
    """Waits until no job is listed; returns the job events seen, without timestamps and
    without the paused/running pair of a job's start (the drain QEMU does around it)."""
    deadline = time.time() + settle_timeout
    while time.time() < deadline:
        if qmp.cmd("query-block-jobs").get("return") == []:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    qmp.cmd("query-version")
    out = []
    for e in qmp.events:
        if not e["event"].startswith(("JOB_", "BLOCK_JOB_")):
            continue
        data = e["data"]
        if e["event"] == "JOB_STATUS_CHANGE" and data["status"] in ("paused", "running"):
            continue
        out.append((e["event"], data))
    qmp.events.clear()
    return out


def wait_status(qmp, status, timeout=10):
    deadline = time.time() + timeout
    info = {}
    while time.time() < deadline:
        jobs = qmp.cmd("query-block-jobs")["return"]
        info = jobs[0] if jobs else {}
        if info.get("status") == status:
            break
        time.sleep(0.05)
    return {k: info.get(k) for k in ("device", "type", "status", "ready", "paused", "len",
                                     "offset", "io-status", "speed")}


def target_map(path, fmt="qcow2"):
    m = json.loads(run("qemu-img", "map", "--output=json", "-f", fmt, path).stdout)
    return [{k: e.get(k) for k in ("start", "length", "depth", "present", "data", "zero")}
            for e in m]


def compare(a, b):
    return run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", a, b, ok=False).returncode


def full_to_node(prog, tmp):
    out = {}
    src, tgt = os.path.join(tmp, "s.qcow2"), os.path.join(tmp, "t.qcow2")
    image(src, writes=["write -P 0x11 0 1M", "write -z 2M 512k", "write -P 0x22 3M 64k"])
    image(tgt)
    p, qmp = start(prog, tmp)
    try:
        add_node(qmp, "src", src)
        add_node(qmp, "tgt", tgt)
        out["mirror"] = qmp.cmd("blockdev-mirror", **{"job-id": "j", "device": "src",
                                                      "target": "tgt", "sync": "full"})
        out["ready event"] = (wait_for(qmp, "BLOCK_JOB_READY") or {}).get("data")
        out["ready"] = wait_status(qmp, "ready")
        out["write"] = hmp(qmp, 'qemu-io src "write -P 0x33 1536k 128k"')
        out["pause"] = qmp.cmd("block-job-pause", device="j")
        out["standby"] = wait_status(qmp, "standby")["status"]
        out["resume"] = qmp.cmd("block-job-resume", device="j")
        out["ready again"] = wait_status(qmp, "ready")["status"]
        out["complete"] = qmp.cmd("block-job-complete", device="j")
        # A paused ready job goes to standby and back as often as it wakes (QEMU's timing).
        events, seen = [], set()
        for n, d in job_events(qmp):
            if n == "JOB_STATUS_CHANGE" and d["status"] in ("ready", "standby"):
                if d["status"] in seen:
                    continue
                seen.add(d["status"])
            events.append((n, d))
        out["events"] = events
        stop(p, qmp)
    finally:
        if p.poll() is None:
            p.kill()
    out["target equals source"] = compare(src, tgt)
    out["target map"] = target_map(tgt)
    return out


def top_of_drive(prog, tmp):
    out = {}
    base, top, tgt = (os.path.join(tmp, n) for n in ("b.qcow2", "top.qcow2", "t.qcow2"))
    image(base, writes=["write -P 0x44 0 2M"])
    image(top, backing=base, writes=["write -P 0x55 1M 64k", "write -z 3M 64k"])
    p, qmp = start(prog, tmp, ["-drive", "if=none,id=drive0,format=qcow2,file=" + top])
    try:
        out["mirror"] = qmp.cmd("drive-mirror", device="drive0", target=tgt, sync="top",
                                format="qcow2")
        out["ready event"] = (wait_for(qmp, "BLOCK_JOB_READY") or {}).get("data")
        out["complete"] = qmp.cmd("block-job-complete", device="drive0")
        out["events"] = job_events(qmp)
        blk = qmp.cmd("query-block")["return"]
        out["drive file"] = [(b["device"], b.get("inserted", {}).get("file")) for b in blk]
        out["write after pivot"] = hmp(qmp, 'qemu-io drive0 "write -P 0x66 0 64k"')
        stop(p, qmp)
    finally:
        if p.poll() is None:
            p.kill()
    info = json.loads(run("qemu-img", "info", "--output=json", tgt).stdout)
    out["target backing"] = info.get("backing-filename")
    out["target map"] = target_map(tgt)
    out["source unchanged by write after pivot"] = run(
        "qemu-io", "-f", "qcow2", "-c", "read -P 0x44 0 64k", top, ok=False).returncode
    out["target has write after pivot"] = run(
        "qemu-io", "-f", "qcow2", "-c", "read -P 0x66 0 64k", tgt, ok=False).returncode
    return out


def cancels(prog, tmp):
    out = {}
    src = os.path.join(tmp, "s.qcow2")
    t1, t2 = os.path.join(tmp, "t1.qcow2"), os.path.join(tmp, "t2.qcow2")
    image(src, writes=["write -P 0x77 0 1M"])
    p, qmp = start(prog, tmp)
    try:
        add_node(qmp, "src", src)
        out["mirror"] = qmp.cmd("drive-mirror", **{"job-id": "soft", "device": "src",
                                                   "target": t1, "sync": "full"})
        wait_for(qmp, "BLOCK_JOB_READY")
        out["soft cancel"] = qmp.cmd("block-job-cancel", device="soft")
        out["soft events"] = job_events(qmp)
        out["mirror 2"] = qmp.cmd("drive-mirror", **{"job-id": "hard", "device": "src",
                                                     "target": t2, "sync": "full",
                                                     "granularity": 65536, "buf-size": 131072})
        wait_for(qmp, "BLOCK_JOB_READY")
        out["job-cancel"] = qmp.cmd("job-cancel", id="hard")
        out["hard events"] = job_events(qmp)
        stop(p, qmp)
    finally:
        if p.poll() is None:
            p.kill()
    out["t1 equals source"] = compare(src, t1)
    out["t2 equals source"] = compare(src, t2)
    return out


def hmp_drive_mirror(prog, tmp):
    out = {}
    src, tgt = os.path.join(tmp, "s.qcow2"), os.path.join(tmp, "t.qcow2")
    image(src, writes=["write -P 0x21 0 512k"])
    p, qmp = start(prog, tmp, ["-drive", "if=none,id=drive0,format=qcow2,file=" + src])
    try:
        out["unknown device"] = hmp(qmp, "drive_mirror -f nope %s" % tgt)
        out["drive_mirror"] = hmp(qmp, "drive_mirror -f drive0 %s qcow2" % tgt)
        out["ready event"] = (wait_for(qmp, "BLOCK_JOB_READY") or {}).get("data")
        out["cancel"] = qmp.cmd("block-job-cancel", device="drive0")
        out["events"] = job_events(qmp)
        stop(p, qmp)
    finally:
        if p.poll() is None:
            p.kill()
    out["target equals source"] = compare(src, tgt)
    return out


def errors(prog, tmp):
    out = {}
    src, tgt = os.path.join(tmp, "s.qcow2"), os.path.join(tmp, "t.qcow2")
    image(src, size=64 * MiB, writes=["write -P 0x12 0 8M"])
    image(tgt, size=64 * MiB)
    p, qmp = start(prog, tmp)
    try:
        add_node(qmp, "src", src)
        add_node(qmp, "tgt", tgt)
        base = {"job-id": "j", "device": "src", "target": "tgt", "sync": "full"}
        for name, extra in (("granularity small", {"granularity": 256}),
                            ("granularity odd", {"granularity": 65536 + 512}),
                            ("buf-size", {"buf-size": -1}),
                            ("incremental", {"sync": "incremental"}),
                            ("self", {"target": "src"}),
                            ("no target", {"target": "nope"}),
                            ("no job id", {"job-id": None}),
                            ("replaces missing", {"replaces": "nope"}),
                            ("replaces other", {"replaces": "tgt"}),
                            ("speed", {"speed": -1})):
            args = dict(base, **extra)
            args = {k: v for k, v in args.items() if v is not None}
            out[name] = qmp.cmd("blockdev-mirror", **args)
        out["slow"] = qmp.cmd("blockdev-mirror", **dict(base, speed=65536))
        out["complete not ready"] = qmp.cmd("block-job-complete", device="j")
        out["second job on target"] = qmp.cmd("blockdev-mirror", **dict(base, **{"job-id": "k"}))
        out["pause"] = qmp.cmd("block-job-pause", device="j")
        out["cancel paused"] = qmp.cmd("block-job-cancel", device="j")
        out["force cancel paused"] = qmp.cmd("block-job-cancel", device="j", force=True)
        events = job_events(qmp)
        # How far the slow job came depends on the host.
        out["events"] = [(n, {k: v for k, v in d.items() if k not in ("offset", "len")})
                         for n, d in events]
        stop(p, qmp)
    finally:
        if p.poll() is None:
            p.kill()
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-mirror-")
try:
    for name, fn in (("full to node", full_to_node), ("top of drive", top_of_drive),
                     ("cancels", cancels), ("hmp drive_mirror", hmp_drive_mirror),
                     ("errors", errors)):
        results = {}
        for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
            d = os.path.join(tmp, "%s-%s" % (name.replace(" ", "_"), who))
            os.makedirs(d)
            results[who] = fn(prog, d)
        text = {w: json.dumps(r, indent=1, sort_keys=True).replace(tmp, "TMP").replace(
            "-qemu/", "-X/").replace("-ours/", "-X/") for w, r in results.items()}
        checker.same(name, text["qemu"], text["ours"], "qemu-system", "e2kvm-system")
        if os.environ.get("E2KVM_TEST_VERBOSE"):
            print(name, text["ours"])
    check(results["ours"].get("slow") == {"return": {}}, "errors: the slow job did not start")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_mirror: all checks passed"))

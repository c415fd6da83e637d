#!/usr/bin/env python3
"""Backup jobs that meet errors, in a group, or compress, against qemu-system-x86_64
(-machine none -nodefaults) given the same QMP; each job's events, query-block-jobs and the
images must be QEMU's:
1. transaction with completion-mode "grouped": a read error injected by blkdebug fails one
   incremental backup, and the other job of the transaction is cancelled; both bitmaps keep
   their dirty granules (count compared). A grouped transaction with a bitmap action is refused.
2. on-source-error=stop: the read error pauses the job (BLOCK_JOB_ERROR with action "stop",
   query-block-jobs status paused, io-status failed); block-job-resume tries again and the job
   completes; on-source-error=ignore goes on past the error; the target equals the source.
3. compress=true to a qcow2 target: the job completes, the target reads as the source and its
   data clusters are compressed (qemu-img check); to a raw target it is refused.
usage: system_job_errors.py E2KVM_SYSTEM"""
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


def start(prog, tmp):
    sock = os.path.join(tmp, "qmp.sock")
    argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    if prog != QEMU:
        argv += ["-serial", "none", "-S"]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, QmpClient(sock)


def image(path, fmt="qcow2", size=4 * MiB, writes=()):
    run("qemu-img", "create", "-f", fmt, path, str(size))
    for pattern, off, length in writes:
        run("qemu-io", "-f", fmt, "-c", "write -P %s %s %s" % (pattern, off, length), path)


def add_node(qmp, name, path, error_state=None):
    """A qcow2 node; with error_state, its file is a blkdebug that fails the first data read
    after a flush (as iotest 124 sets it up)."""
    file = {"driver": "file", "filename": path}
    if error_state:
        file = {"driver": "blkdebug", "image": file,
                "set-state": [{"event": "flush_to_disk", "state": 1, "new_state": 2}],
                "inject-error": [{"event": "read_aio", "errno": 5, "state": 2,
                                  "immediately": False, "once": True}]}
    return qmp.cmd("blockdev-add", **{"node-name": name, "driver": "qcow2", "file": file})


def hmp(qmp, line):
    return qmp.cmd("human-monitor-command", **{"command-line": line})


def settle(qmp, timeout=30):
    """Waits until no job is listed; returns the job events seen, per job, without timestamps."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if qmp.cmd("query-block-jobs").get("return") == []:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    qmp.cmd("query-version")
    per_job = {}
    for e in qmp.events:
        if e["event"].startswith(("JOB_", "BLOCK_JOB_")):
            data = e["data"]
            per_job.setdefault(data.get("id", data.get("device")), []).append(
                (e["event"], data))
    qmp.events.clear()
    return per_job


def bitmap_counts(qmp):
    out = {}
    for n in qmp.cmd("query-named-block-nodes")["return"]:
        for b in n.get("dirty-bitmaps", []):
            out["%s/%s" % (n["node-name"], b["name"])] = b["count"]
    return out


def wait_for(qmp, event, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in qmp.events:
            if e["event"] == event:
                return e
        time.sleep(0.05)
        qmp.cmd("query-version")
    return None


def only_steady(events):
    """The events of a job without what the host's timing decides: the statuses a paused/running
    pair of the start, waiting (passed only by a job done before its partner), and how far a
    job cancelled by its partner's failure had come."""
    out = []
    for name, data in events:
        if name == "JOB_STATUS_CHANGE" and data["status"] in ("paused", "running", "waiting"):
            continue
        if name == "BLOCK_JOB_CANCELLED":
            data = {k: v for k, v in data.items() if k != "offset"}
        out.append((name, data))
    return out


def grouped(prog, tmp):
    out = {}
    a, b = os.path.join(tmp, "a.qcow2"), os.path.join(tmp, "b.qcow2")
    image(a, writes=[("0x11", 0, "1M")])
    image(b, writes=[("0x22", 0, "1M")])
    for t in ("ta", "tb"):
        image(os.path.join(tmp, t + ".qcow2"))
    p, qmp = start(prog, tmp)
    try:
        check("return" in add_node(qmp, "na", a), "%s: blockdev-add na" % prog)
        check("return" in add_node(qmp, "nb", b, error_state=True), "%s: blockdev-add nb" % prog)
        for t in ("ta", "tb"):
            add_node(qmp, t, os.path.join(tmp, t + ".qcow2"))
        for n in ("na", "nb"):
            qmp.cmd("block-dirty-bitmap-add", node=n, name="bm")
            hmp(qmp, 'qemu-io %s "write -P 0x33 64k 128k"' % n)
        hmp(qmp, 'qemu-io nb "flush"')
        out["bitmap action refused"] = qmp.cmd(
            "transaction", actions=[{"type": "block-dirty-bitmap-clear",
                                     "data": {"node": "na", "name": "bm"}}],
            properties={"completion-mode": "grouped"})
        out["transaction"] = qmp.cmd("transaction", actions=[
            {"type": "blockdev-backup", "data": {"job-id": j, "device": d, "target": t,
                                                 "sync": "incremental", "bitmap": "bm"}}
            for j, d, t in (("ja", "na", "ta"), ("jb", "nb", "tb"))],
            properties={"completion-mode": "grouped"})
        events = settle(qmp)
        out["events"] = {j: only_steady(e) for j, e in sorted(events.items())}
        out["bitmaps after failure"] = bitmap_counts(qmp)
        qmp.cmd("quit")
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    return out


def stop_on_error(prog, tmp, policy):
    out = {}
    src, tgt = os.path.join(tmp, "s.qcow2"), os.path.join(tmp, "t.qcow2")
    image(src, writes=[("0x44", 0, "2M"), ("0x55", "3M", "64k")])
    image(tgt)
    p, qmp = start(prog, tmp)
    try:
        check("return" in add_node(qmp, "src", src, error_state=True), "%s: blockdev-add" % prog)
        add_node(qmp, "tgt", tgt)
        hmp(qmp, 'qemu-io src "write -P 0x56 3M 64k"')
        hmp(qmp, 'qemu-io src "flush"')
        out["backup"] = qmp.cmd("blockdev-backup", **{
            "job-id": "j", "device": "src", "target": "tgt", "sync": "full",
            "on-source-error": policy})
        err = wait_for(qmp, "BLOCK_JOB_ERROR")
        out["error event"] = err and err["data"]
        if policy == "stop":
            # The pause follows the event; wait for it to show.
            deadline = time.time() + 10
            info = {}
            while time.time() < deadline:
                jobs = qmp.cmd("query-block-jobs")["return"]
                info = jobs[0] if jobs else {}
                if info.get("status") == "paused":
                    break
                time.sleep(0.05)
            out["while stopped"] = {k: info.get(k) for k in ("status", "paused", "io-status",
                                                              "device", "type")}
            out["resume"] = qmp.cmd("block-job-resume", device="j")
        events = settle(qmp)
        out["events"] = only_steady(events.get("j", []))
        qmp.cmd("quit")
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    out["target equals source"] = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2",
                                      src, tgt, ok=False).returncode
    return out


def compressed(prog, tmp):
    out = {}
    src, tgt, raw = (os.path.join(tmp, n) for n in ("s.qcow2", "t.qcow2", "t.raw"))
    image(src, writes=[("0x66", 0, "1M"), ("0x77", "2M", "4k")])
    image(tgt)
    image(raw, fmt="raw")
    p, qmp = start(prog, tmp)
    try:
        add_node(qmp, "src", src)
        add_node(qmp, "tgt", tgt)
        qmp.cmd("blockdev-add", **{"node-name": "traw", "driver": "raw",
                                   "file": {"driver": "file", "filename": raw}})
        out["to raw"] = qmp.cmd("blockdev-backup", **{"job-id": "r", "device": "src",
                                                      "target": "traw", "sync": "full",
                                                      "compress": True})
        out["to qcow2"] = qmp.cmd("blockdev-backup", **{"job-id": "j", "device": "src",
                                                        "target": "tgt", "sync": "full",
                                                        "compress": True})
        out["events"] = only_steady(settle(qmp).get("j", []))
        qmp.cmd("quit")
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
    out["target equals source"] = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2",
                                      src, tgt, ok=False).returncode
    m = json.loads(run("qemu-img", "map", "--output=json", "-f", "qcow2", tgt).stdout)
    out["map"] = [{k: e.get(k) for k in ("start", "length", "data", "zero")} for e in m]
    c = json.loads(run("qemu-img", "check", "--output=json", "-f", "qcow2", tgt).stdout)
    out["check"] = {k: c.get(k) for k in ("allocated-clusters", "compressed-clusters",
                                          "corruptions", "leaks")}
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-joberr-")
try:
    for name, fn in (("grouped", grouped),
                     ("stop", lambda prog, d: stop_on_error(prog, d, "stop")),
                     ("ignore", lambda prog, d: stop_on_error(prog, d, "ignore")),
                     ("compress", compressed)):
        results = {}
        for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
            d = os.path.join(tmp, "%s-%s" % (name, who))
            os.makedirs(d)
            results[who] = fn(prog, d)
        checker.same(name, json.dumps(results["qemu"], indent=1, sort_keys=True),
                     json.dumps(results["ours"], indent=1, sort_keys=True),
                     "qemu-system", "e2kvm-system")
        if name == "compress":
            check(results["ours"]["check"]["compressed-clusters"],
                  "compress: no compressed cluster in the target: %r" % results["ours"]["check"])
        if os.environ.get("E2KVM_TEST_VERBOSE"):
            print(name, json.dumps(results["ours"], sort_keys=True))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_job_errors: all checks passed"))

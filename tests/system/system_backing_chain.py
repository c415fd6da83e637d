#!/usr/bin/env python3
"""Backing-chain operations of QMP on e2kvm-system next to qemu-system-x86_64 (-machine none
-nodefaults) given the same commands, as QEMU's iotests 030, 040 and 085 use them:
1. blockdev-snapshot-sync twice over a drive (if=none), with writes through the drive (HMP
   qemu-io) landing in the newest overlay; the "Formatting" lines printed, query-block's
   chain (backing_file, backing_file_depth), the refusals (no device, overlay name in use,
   committing the active layer with backing-file, an image into itself).
2. block-commit of the middle layer into the base (job events, the overlay's new backing file
   name, the middle node gone), then blockdev-snapshot with an overlay added by blockdev-add
   (backing: null), a write, and block-stream of the whole chain above the base into it
   (base-node), then block-stream of everything (no backing file left); a new overlay and its
   active block-commit (ready, block-job-complete; the drive is on the base afterwards); two
   more overlays and block-stream into the middle one (s1 takes in its whole chain);
   change-backing-file (a relative name in the header) and its refusals.
3. The images afterwards: qemu-img info (backing file and format), map and the data of every
   layer compared with QEMU's.
usage: system_backing_chain.py E2KVM_SYSTEM"""
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
if peers.missing("qemu-system-x86_64", "qemu-img", "qemu-io"):
    print("SKIP: needs qemu-system-x86_64, qemu-img and qemu-io")
    sys.exit(SKIP)

MiB = 1 << 20


def steady(events):
    """A job's events without the statuses the host's timing decides (the paused/running pair
    of the start, waiting)."""
    return [(n, d) for n, d in events
            if not (n == "JOB_STATUS_CHANGE" and d["status"] in ("paused", "running", "waiting"))]


class Vm:
    def __init__(self, prog, tmp, base):
        self.tmp = tmp
        sock = os.path.join(tmp, "qmp.sock")
        argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
        if prog != QEMU:
            argv += ["-serial", "none", "-S"]
        argv += ["-qmp", "unix:%s,server=on,wait=off" % sock,
                 "-drive", "if=none,id=drive0,file=%s,format=qcow2,node-name=base" % base]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.qmp = QmpClient(sock, timeout=60)

    def cmd(self, command, **args):
        r = self.qmp.cmd(command, **args)
        return json.loads(json.dumps(r).replace(self.tmp, "TMP"))

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})

    def chain(self):
        """query-block's view of drive0's chain."""
        out = []
        for d in self.cmd("query-block")["return"]:
            i = d.get("inserted", {})
            out.append({k: i.get(k) for k in ("node-name", "file", "backing_file",
                                              "backing_file_depth", "ro")})
        return out

    def job(self, jid, timeout=60):
        """Waits until job `jid` is gone; its steady events."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not any(j["device"] == jid for j in self.cmd("query-block-jobs")["return"]):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        self.qmp.cmd("query-version")
        events = []
        for e in self.qmp.events:
            d = e["data"]
            if e["event"].startswith(("JOB_", "BLOCK_JOB_")) and d.get("id", d.get("device")) == jid:
                events.append((e["event"], json.loads(json.dumps(d).replace(self.tmp, "TMP"))))
        self.qmp.events.clear()
        return steady(events)

    def ready(self, jid, timeout=60):
        """Waits until job `jid` is ready; what query-block-jobs then says of it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for j in self.cmd("query-block-jobs")["return"]:
                if j["device"] == jid and j["status"] == "ready":
                    return {k: j.get(k) for k in ("ready", "status", "type", "len", "offset")}
            time.sleep(0.05)
        return None

    def quit(self):
        self.qmp.cmd("quit")
        out, _ = self.proc.communicate(timeout=30)
        return [l.replace(self.tmp, "TMP") for l in out.decode().splitlines()
                if l.startswith("Formatting")]


def scenario(prog, tmp):
    out = {}
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    run("qemu-img", "create", "-f", "qcow2", p("base.qcow2"), str(4 * MiB))
    for pattern, off in (("0x11", 0), ("0x22", MiB)):
        run("qemu-io", "-f", "qcow2", "-c", "write -P %s %d 64k" % (pattern, off),
            p("base.qcow2"))
    vm = Vm(prog, tmp, p("base.qcow2"))
    try:
        out["no device"] = vm.cmd("blockdev-snapshot-sync",
                                  **{"snapshot-file": p("x.qcow2"), "format": "qcow2"})
        out["snap mid"] = vm.cmd("blockdev-snapshot-sync", **{
            "device": "drive0", "snapshot-file": p("mid.qcow2"), "snapshot-node-name": "mid",
            "format": "qcow2"})
        vm.hmp('qemu-io drive0 "write -P 0x33 64k 64k"')
        vm.hmp('qemu-io drive0 "write -P 0x34 1M 32k"')
        out["name in use"] = vm.cmd("blockdev-snapshot-sync", **{
            "node-name": "mid", "snapshot-file": p("y.qcow2"), "snapshot-node-name": "base"})
        out["snap top"] = vm.cmd("blockdev-snapshot-sync", **{
            "node-name": "mid", "snapshot-file": p("top.qcow2"), "snapshot-node-name": "top"})
        vm.hmp('qemu-io drive0 "write -P 0x44 2M 64k"')
        out["chain of three"] = vm.chain()
        out["active with backing-file"] = vm.cmd("block-commit", **{
            "device": "drive0", "backing-file": "x"})
        out["into itself"] = vm.cmd("block-commit", **{
            "device": "drive0", "top-node": "mid", "base-node": "mid"})
        out["commit"] = vm.cmd("block-commit", **{
            "device": "drive0", "job-id": "c1", "top-node": "mid", "base-node": "base"})
        out["commit events"] = vm.job("c1")
        out["chain after commit"] = vm.chain()
        out["mid gone"] = sorted(n["node-name"] for n in vm.cmd("query-named-block-nodes")
                                 ["return"] if not n["node-name"].startswith("#"))
        run("qemu-img", "create", "-f", "qcow2", "-u", "-b", p("top.qcow2"), "-F", "qcow2",
            p("over.qcow2"), str(4 * MiB))
        out["add over"] = vm.cmd("blockdev-add", **{
            "driver": "qcow2", "node-name": "over", "backing": None,
            "file": {"driver": "file", "filename": p("over.qcow2")}})
        out["snapshot over"] = vm.cmd("blockdev-snapshot", node="top", overlay="over")
        vm.hmp('qemu-io drive0 "write -P 0x55 3M 64k"')
        out["chain with over"] = vm.chain()
        out["stream"] = vm.cmd("block-stream", **{"device": "drive0", "job-id": "s1",
                                                  "base-node": "base"})
        out["stream events"] = vm.job("s1")
        out["chain after stream"] = vm.chain()
        out["stream all"] = vm.cmd("block-stream", **{"device": "drive0", "job-id": "s2"})
        out["stream all events"] = vm.job("s2")
        out["chain alone"] = vm.chain()
        out["snap act"] = vm.cmd("blockdev-snapshot-sync", **{
            "device": "drive0", "snapshot-file": p("act.qcow2"), "snapshot-node-name": "act"})
        vm.hmp('qemu-io drive0 "write -P 0x66 0 64k"')
        out["active commit"] = vm.cmd("block-commit", **{"device": "drive0", "job-id": "a1"})
        out["ready"] = vm.ready("a1")
        out["complete"] = vm.cmd("block-job-complete", device="a1")
        out["active commit events"] = vm.job("a1")
        out["chain after active commit"] = vm.chain()
        vm.hmp('qemu-io drive0 "write -P 0x77 64k 64k"')
        for name, pattern in (("s1", "0x88"), ("s2", "0x99")):
            vm.cmd("blockdev-snapshot-sync", **{"device": "drive0", "snapshot-file":
                                                p(name + ".qcow2"), "snapshot-node-name": name})
            vm.hmp('qemu-io drive0 "write -P %s 2M 4k"' % pattern)
        out["stream no job id"] = vm.cmd("block-stream", device="s1")
        out["stream intermediate"] = vm.cmd("block-stream", **{"device": "s1", "job-id": "si"})
        out["stream intermediate events"] = vm.job("si")
        out["chain after intermediate stream"] = vm.chain()
        out["change-backing-file"] = vm.cmd("change-backing-file", **{
            "device": "drive0", "image-node-name": "s2", "backing-file": "s1.qcow2"})
        out["change-backing-file no backing"] = vm.cmd("change-backing-file", **{
            "device": "drive0", "image-node-name": "s1", "backing-file": "x.qcow2"})
        out["change-backing-file unknown"] = vm.cmd("change-backing-file", **{
            "device": "drive0", "image-node-name": "nothere", "backing-file": "x.qcow2"})
        out["formatting"] = vm.quit()
    finally:
        if vm.proc.poll() is None:
            vm.proc.kill()
    for name in ("base", "mid", "top", "over", "act", "s1", "s2"):
        f = p(name + ".qcow2")
        info = json.loads(run("qemu-img", "info", "-U", "--output=json", f).stdout)
        out["info " + name] = json.loads(json.dumps(
            {k: info.get(k) for k in ("backing-filename", "backing-filename-format",
                                      "virtual-size")}).replace(tmp, "TMP"))
        m = json.loads(run("qemu-img", "map", "-U", "--output=json", f).stdout)
        out["map " + name] = [{k: e.get(k) for k in ("start", "length", "data", "zero", "depth")}
                              for e in m]
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-chain-")
try:
    results = {}
    for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
        d = os.path.join(tmp, who)
        os.makedirs(d)
        results[who] = scenario(prog, d)
    checker.same("backing chain", json.dumps(results["qemu"], indent=1, sort_keys=True),
                 json.dumps(results["ours"], indent=1, sort_keys=True),
                 "qemu-system", "e2kvm-system")
    for name in ("base", "mid", "top", "over", "act", "s1", "s2"):
        r = run("qemu-img", "compare", "-U", os.path.join(tmp, "qemu", name + ".qcow2"),
                os.path.join(tmp, "ours", name + ".qcow2"), ok=False)
        checker.check(r.returncode == 0, "%s.qcow2 differs from QEMU's: %s" % (name, r.stdout))
    if os.environ.get("E2KVM_TEST_VERBOSE"):
        print(json.dumps(results["ours"], indent=1, sort_keys=True))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_backing_chain: all checks passed"))

#!/usr/bin/env python3
"""copy-before-write and snapshot-access nodes, qom-set of a running disk's drive, and
blockdev-backup's filter-node-name on e2kvm-system, next to qemu-system-x86_64 (-machine pc -S
-nodefaults, which has the virtio-scsi disk the steps need) with the same steps, as QEMU's
iotests image-fleecing and 257 use them:
1. A copy-before-write filter over the running disk into a raw fleecing file, put under the
   disk with qom-set, read through a snapshot-access node exported over NBD: the disk's writes
   (HMP qemu-io -d on the device) do not show in the export, the disk holds them; with a bitmap
   only its clusters are readable (EINVAL elsewhere); query-block shows the filter under the
   device; the nodes in use refuse blockdev-del; taking the filter out again and deleting the
   nodes leaves the disk with the writes.
2. blockdev-backup with filter-node-name: the filter node is listed while the job runs, writes
   through it are copied first (the target holds the point in time), query-named-block-nodes
   shows the same bitmaps as QEMU's (the frozen bitmap, its successor, the copy's and the
   filter's), and the node is gone once the job ends.
Every reply is compared with QEMU's.
usage: system_cbw_snapshot.py E2KVM_SYSTEM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = sys.argv[1]
QEMU = shutil.which("qemu-system-x86_64")
checker = Checker(sys.stderr)
check = checker.check

MiB = 1 << 20
PATTERNS = [("0x5d", 0, "64k"), ("0xd5", MiB, "64k"), ("0xdc", 32 * MiB, "64k"),
            ("0xcd", 0x3ff0000, "64k")]
OVERWRITES = [("0xab", 0, "64k"), ("0xad", 0x00f8000, "64k"), ("0x1d", 0x2008000, "64k"),
              ("0xea", 0x3fe0000, "64k")]
OUTSIDE = [("0", 0x00f8000, "32k"), ("0", 0x2010000, "32k"), ("0", 0x3fe0000, "64k")]
REMAINDER = [("0xd5", 0x108000, "32k"), ("0xdc", 32 * MiB, "32k"), ("0xcd", 0x3ff0000, "64k")]
SCSI_DISK = "/machine/peripheral/sda"


def qemu_io(*args):
    p = run("qemu-io", *args, ok=False, timeout=60)
    return p.returncode, p.stdout + p.stderr


class Vm:
    """One VM (ours or QEMU's) with the disk on node `source` under a scsi-hd `sda`; every
    command and its reply go to a transcript (paths replaced by TMP)."""

    def __init__(self, prog, tmp, image, device=True):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "qmp.sock")
        self.nbd = os.path.join(tmp, "nbd.sock")
        argv = [prog, "-S", "-nodefaults", "-display", "none"]
        if prog == QEMU:
            argv += ["-machine", "pc", "-accel", "tcg"]
        argv += ["-qmp", "unix:%s,server=on,wait=off" % self.sock,
                 "-blockdev", "driver=qcow2,file.driver=file,file.filename=%s,node-name=source"
                 % image, "-device", "virtio-scsi"]
        if device:  # a guest disk: QEMU then lets no one else write its node
            argv += ["-device", "scsi-hd,id=sda,drive=source"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.qmp = QmpClient(self.sock, timeout=60)
        self.transcript = []

    def cmd(self, command, **args):
        r = self.qmp.cmd(command, **args)
        shown = {k: v for k, v in r.items() if k != "error"}
        if "error" in r:
            shown["error"] = r["error"]["class"]  # the wording may differ; the outcome not
        line = "%s %s -> %s" % (command, json.dumps(args, sort_keys=True),
                                json.dumps(shown, sort_keys=True))
        self.transcript.append(line.replace(self.tmp, "TMP"))
        return r

    def hmp(self, line):
        return self.cmd("human-monitor-command", **{"command-line": line})

    def note(self, text):
        self.transcript.append(text)

    def inserted(self):
        for d in self.qmp.execute("query-block"):
            if d.get("qdev") in ("sda", SCSI_DISK) and "inserted" in d:
                return d["inserted"]["node-name"], d["inserted"]["drv"]
        return None

    def node_names(self):
        # Not QEMU's implicit protocol nodes ("#block123"), which e2kvm does not list.
        return sorted(n["node-name"] for n in self.qmp.execute("query-named-block-nodes")
                      if not n["node-name"].startswith("#"))

    def bitmaps(self):
        out = {}
        for n in self.qmp.execute("query-named-block-nodes"):
            if "dirty-bitmaps" in n:
                out[n["node-name"]] = n["dirty-bitmaps"]
        return out

    def wait(self, event, job):
        e = self.qmp.wait_event(event, timeout=60)
        self.note("%s %s" % (event, json.dumps(e and e["data"], sort_keys=True)))
        check(e is not None and e["data"].get("device", e["data"].get("id")) == job,
              "%s of %s: %r" % (event, job, e))

    def quit(self):
        try:
            self.cmd("quit")
        except (OSError, EOFError):
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fleecing(prog, tmp, with_bitmap):
    """Step 1 on one program; returns its transcript."""
    base = os.path.join(tmp, "base.qcow2")
    fleece = os.path.join(tmp, "fleece.raw")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "64M")
    if with_bitmap:
        run("qemu-img", "bitmap", "--add", base, "bitmap0")
    run("qemu-img", "create", "-q", "-f", "raw", fleece, "64M")
    for p in PATTERNS:
        run("qemu-io", "-f", "qcow2", "-c", "write -P%s %s %s" % p, base)
    vm = Vm(prog, tmp, base)
    try:
        vm.cmd("blockdev-add", **{"node-name": "temp", "driver": "file", "filename": fleece})
        cbw = {"driver": "copy-before-write", "node-name": "fl-cbw", "file": "source",
               "target": "temp"}
        if with_bitmap:
            cbw["bitmap"] = {"node": "source", "name": "bitmap0"}
        vm.cmd("blockdev-add", **cbw)
        vm.cmd("qom-set", path=SCSI_DISK, property="drive", value="fl-cbw")
        vm.note("inserted %r" % (vm.inserted(),))
        vm.cmd("blockdev-add", driver="snapshot-access", **{"node-name": "fl-access"},
               file="fl-cbw")
        vm.cmd("blockdev-del", **{"node-name": "fl-cbw"})  # in use
        vm.cmd("blockdev-del", **{"node-name": "temp"})  # in use
        vm.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": vm.nbd}})
        vm.cmd("nbd-server-add", device="fl-access")
        uri = "nbd+unix:///fl-access?socket=%s" % vm.nbd

        def read_export(when):
            for p in PATTERNS + OUTSIDE:
                rc, out = qemu_io("-r", "-f", "raw", "-c", "read -P%s %s %s" % p, uri)
                outside = p in OUTSIDE and with_bitmap
                vm.note("%s read %s: %s" % (when, p, "EINVAL" if "Invalid argument" in out
                                             else "ok" if rc == 0 and "verification" not in out
                                             else "bad"))
                if not outside:
                    check(rc == 0 and "verification failed" not in out,
                          "%s: %s export read %s: %s" % (prog, when, p, out))

        read_export("before")
        for p in OVERWRITES:
            vm.hmp("qemu-io -d %s \"write -P%s %s %s\"" % ((SCSI_DISK,) + p))
        read_export("after")
        vm.cmd("nbd-server-stop")
        vm.cmd("blockdev-del", **{"node-name": "fl-access"})
        vm.cmd("qom-set", path=SCSI_DISK, property="drive", value="source")
        vm.note("inserted %r" % (vm.inserted(),))
        vm.cmd("blockdev-del", **{"node-name": "fl-cbw"})
        vm.cmd("blockdev-del", **{"node-name": "temp"})
        vm.note("nodes %r" % vm.node_names())
    finally:
        vm.quit()
    for p in OVERWRITES + REMAINDER:
        rc, out = qemu_io("-c", "read -P%s %s %s" % p, base)
        check(rc == 0 and "verification failed" not in out, "%s: disk read %s: %s" % (prog, p, out))
    return vm.transcript


def backup_filter(prog, tmp):
    """Step 2 on one program; returns its transcript."""
    base = os.path.join(tmp, "base.qcow2")
    target = os.path.join(tmp, "target.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "64M")
    run("qemu-img", "create", "-q", "-f", "qcow2", target, "64M")
    for p in PATTERNS:
        run("qemu-io", "-f", "qcow2", "-c", "write -P%s %s %s" % p, base)
    vm = Vm(prog, tmp, base, device=False)  # as iotest 257: writes go to the nodes
    try:
        vm.cmd("blockdev-add", driver="qcow2", **{"node-name": "target"},
               file={"driver": "file", "filename": target})
        vm.cmd("block-dirty-bitmap-add", node="source", name="bitmap0", granularity=65536)
        for p in OVERWRITES[:2]:
            vm.hmp("qemu-io source \"write -P%s %s %s\"" % p)
        args = {"job-id": "job0", "device": "source", "target": "target", "sync": "full",
                "bitmap": "bitmap0", "bitmap-mode": "on-success", "auto-finalize": False,
                "filter-node-name": "backup-top"}
        vm.cmd("blockdev-backup", **dict(args, **{"filter-node-name": "1bad"}))
        vm.cmd("blockdev-backup", **dict(args, **{"filter-node-name": "target"}))
        vm.cmd("blockdev-backup", **args)
        vm.wait("BLOCK_JOB_PENDING", "job0")
        vm.note("nodes %r" % vm.node_names())
        for p in OVERWRITES[2:]:
            vm.hmp("qemu-io backup-top \"write -P%s %s %s\"" % p)
        vm.note("bitmaps %s" % json.dumps(vm.bitmaps(), sort_keys=True))
        vm.cmd("job-finalize", id="job0")
        vm.wait("BLOCK_JOB_COMPLETED", "job0")
        vm.note("nodes %r" % vm.node_names())
        vm.note("bitmaps %s" % json.dumps(vm.bitmaps(), sort_keys=True))
        vm.cmd("blockdev-del", **{"node-name": "target"})
    finally:
        vm.quit()
    # The target holds the disk as it was when the job started.
    for p in PATTERNS[2:3] + [("0xab", 0, "64k")]:
        rc, out = qemu_io("-c", "read -P%s %s %s" % p, target)
        check(rc == 0 and "verification failed" not in out,
              "%s: target read %s: %s" % (prog, p, out))
    return vm.transcript


for name, step in (("fleecing", lambda prog, tmp: fleecing(prog, tmp, False)),
                   ("fleecing with bitmap", lambda prog, tmp: fleecing(prog, tmp, True)),
                   ("backup filter-node-name", backup_filter)):
    transcripts = []
    for prog in (QEMU, SYSTEM):
        with tempfile.TemporaryDirectory(prefix="e2kvm-cbw-") as tmp:
            transcripts.append(step(prog, tmp))
    checker.same(name + " (replies and data)", "\n".join(transcripts[0]),
                 "\n".join(transcripts[1]), "qemu-system-x86_64", "e2kvm-system")

sys.exit(checker.exit_status("system_cbw_snapshot: all checks passed"))

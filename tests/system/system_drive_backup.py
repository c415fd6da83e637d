#!/usr/bin/env python3
"""QMP drive-backup (the command and the transaction action), blockdev-create and block_resize
on e2kvm-system,
next to qemu-system-x86_64 -machine none -nodefaults: the target image created as QEMU creates
it (mode absolute-paths in the source's format or `format`, sync=none backed by the source;
mode existing keeps the image as it is), its contents, the job's events, the target node gone
once the job ends, and the errors, in QEMU's words; blockdev-create as a "create" job (its
events, query-jobs, the image made) as iotest 257 creates its targets, and over an existing raw
disk as its data file (iotest 244); query-block-jobs right
after BLOCK_JOB_COMPLETED no longer lists the auto-dismissed job.
usage: system_drive_backup.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)
check = checker.check


class Vm:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv + ["-nodefaults", "-display", "none", "-qmp", "stdio"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.events = []
        json.loads(self.p.stdout.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = {k.replace("_", "-"): v for k, v in args.items()}
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("%s ended: %s" % (self.p.args[0], self.p.stderr.read()))
            if not line.startswith("{"):
                continue  # not QMP (a qemu-system warning)
            m = json.loads(line)
            if "event" in m:
                self.events.append(m)
            else:
                return m

    def wait_event(self, name, job):
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and e["data"].get("device", e["data"].get("id")) == job:
                    return self.events.pop(i)
            line = self.p.stdout.readline()
            if not line:
                return None
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def wait_null(self, job):
        """The job's JOB_STATUS_CHANGE statuses up to null."""
        if not any(e["event"] == "JOB_STATUS_CHANGE" and e["data"]["id"] == job
                   for e in self.events) and not self.cmd("query-jobs").get("return"):
            return ["(no job)"]
        seen = []
        while True:
            e = self.wait_event("JOB_STATUS_CHANGE", job)
            if e is None:
                return seen
            seen.append(e["data"]["status"])
            if e["data"]["status"] == "null":
                return seen

    def wait_null_after_dismiss(self, job):
        """The statuses of a job that waits for job-dismiss in concluded (query-jobs there)."""
        seen = []
        while True:
            e = self.wait_event("JOB_STATUS_CHANGE", job)
            if e is None:
                return seen + ["(vm ended)"]
            seen.append(e["data"]["status"])
            if e["data"]["status"] == "concluded":
                jobs = self.cmd("query-jobs")["return"]
                seen.append([{k: j.get(k) for k in ("id", "type", "status", "total-progress",
                                                    "current-progress", "error")} for j in jobs])
                seen.append(err(self.cmd("job-dismiss", id=job)))
            if e["data"]["status"] == "null":
                return seen

    def quit(self):
        self.cmd("quit")
        self.p.wait(timeout=30)


def err(reply):
    return reply.get("error", {}).get("desc", "(ok)")


def info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                         capture_output=True, text=True)
    if out.returncode:
        return out.stderr.strip()
    j = json.loads(out.stdout)
    return {k: j.get(k) for k in ("format", "virtual-size", "cluster-size", "backing-filename",
                                  "backing-filename-format")}


def same_data(a, b):
    return subprocess.run(["qemu-img", "compare", "-U", a, b], capture_output=True).returncode == 0


def scenario(prog, accel, tmp):
    src = os.path.join(tmp, "src.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", src, "4M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 64k", "-c", "write -P 0xa5 3M 128k", src],
                   check=True, capture_output=True)
    big = os.path.join(tmp, "existing.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=128k", big,
                    "4M"], check=True)
    vm = Vm([prog, "-machine", "none", "-accel", accel, "-blockdev",
             "driver=qcow2,file.driver=file,file.filename=%s,node-name=src" % src])
    r = {}
    full = os.path.join(tmp, "full.qcow2")
    r["full"] = err(vm.cmd("drive-backup", job_id="j1", device="src", target=full,
                           sync="full", format="qcow2"))
    r["full events"] = vm.wait_null("j1")
    r["full info"] = info(full)
    r["full data"] = same_data(src, full)
    raw = os.path.join(tmp, "full.raw")
    r["raw"] = err(vm.cmd("drive-backup", job_id="j2", device="src", target=raw, sync="full",
                          format="raw"))
    vm.wait_null("j2")
    r["raw info"] = info(raw)
    r["raw data"] = same_data(src, raw)
    r["existing"] = err(vm.cmd("drive-backup", job_id="j3", device="src", target=big,
                               sync="full", mode="existing"))
    vm.wait_null("j3")
    r["existing info"] = info(big)
    r["existing data"] = same_data(src, big)
    none = os.path.join(tmp, "none.qcow2")
    r["none"] = err(vm.cmd("drive-backup", job_id="j4", device="src", target=none, sync="none",
                           format="qcow2", auto_dismiss=False))
    # The sync=none target is backed by the source node while the job runs.
    r["none target node"] = [(n.get("backing_file"), n.get("backing_file_depth"), n["drv"])
                             for n in vm.cmd("query-named-block-nodes")["return"]
                             if n["file"] == none and n["drv"] != "file"]  # no protocol children
    vm.cmd("job-cancel", id="j4")
    while True:
        e = vm.wait_event("JOB_STATUS_CHANGE", "j4")
        if e is None or e["data"]["status"] == "concluded":
            break
    r["none dismiss"] = err(vm.cmd("job-dismiss", id="j4"))
    r["none info"] = info(none)
    txn = os.path.join(tmp, "txn.qcow2")
    r["transaction"] = err(vm.cmd("transaction", actions=[
        {"type": "drive-backup", "data": {"job-id": "j5", "device": "src", "target": txn,
                                          "sync": "full", "format": "qcow2"}}]))
    r["transaction events"] = vm.wait_null("j5")
    r["transaction data"] = same_data(src, txn)
    # The targets' nodes close with their jobs.
    nodes = vm.cmd("query-named-block-nodes")["return"]
    r["target nodes left"] = sorted(n["file"] for n in nodes if n["file"] != src)
    r["missing device"] = err(vm.cmd("drive-backup", job_id="j6", device="nosuch",
                                     target=os.path.join(tmp, "x.qcow2"), sync="full"))
    r["missing existing"] = err(vm.cmd("drive-backup", job_id="j7", device="src",
                                       target=os.path.join(tmp, "absent.qcow2"), sync="full",
                                       mode="existing", format="qcow2"))
    r["bad mode"] = err(vm.cmd("drive-backup", job_id="j8", device="src", target=full,
                               sync="full", mode="relative"))
    r["no sync"] = err(vm.cmd("drive-backup", job_id="j9", device="src", target=full))

    # blockdev-create, as iotest 257's create_target does it.
    made = os.path.join(tmp, "made.qcow2")
    r["create file"] = err(vm.cmd("blockdev-create", job_id="c1",
                                  options={"driver": "file", "filename": made, "size": 0}))
    r["create file events"] = vm.wait_null_after_dismiss("c1")
    r["add file"] = err(vm.cmd("blockdev-add", driver="file", node_name="fmade", filename=made))
    r["create qcow2"] = err(vm.cmd("blockdev-create", job_id="c2",
                                   options={"driver": "qcow2", "file": "fmade",
                                            "size": 4 << 20, "cluster-size": 32768}))
    r["create qcow2 events"] = vm.wait_null_after_dismiss("c2")
    r["created info"] = info(made)
    r["create no node"] = err(vm.cmd("blockdev-create", job_id="c4",
                                     options={"driver": "qcow2", "file": "nosuch",
                                              "size": 1 << 20}))
    r["create no node events"] = vm.wait_null_after_dismiss("c4")
    # blockdev-create of qcow2 metadata over an existing raw disk (data-file, data-file-raw),
    # as iotest 244 does it: only the qcow2 file is formatted, the disk reads through it.
    disk, meta = os.path.join(tmp, "disk.raw"), os.path.join(tmp, "meta.qcow2")
    with open(disk, "wb") as f:
        f.write(b"\x2a" * (1 << 20))
    open(meta, "wb").close()
    for node, path in (("fdisk", disk), ("fmeta", meta)):
        vm.cmd("blockdev-add", driver="file", node_name=node, filename=path)
    r["create over data file"] = err(vm.cmd("blockdev-create", job_id="c5",
                                            options={"driver": "qcow2", "file": "fmeta",
                                                     "data-file": "fdisk",
                                                     "data-file-raw": True, "size": 1 << 20}))
    if r["create over data file"] == "(ok)":  # (no job to wait for otherwise)
        r["create over data file events"] = vm.wait_null_after_dismiss("c5")
    read = subprocess.run(["qemu-io", "-U", "-r", "-f", "qcow2", "-c", "read -P 42 0 1M", meta],
                          capture_output=True, text=True)
    r["data file read through qcow2"] = (read.returncode, "verification failed" in read.stdout)
    r["add made"] = err(vm.cmd("blockdev-add", driver="qcow2", node_name="made", file="fmade"))
    # A client that saw BLOCK_JOB_COMPLETED finds the auto-dismissed job gone.
    done = []
    for i in range(3):
        vm.cmd("drive-backup", job_id="q%d" % i, device="src", sync="full", format="qcow2",
               target=os.path.join(tmp, "q%d.qcow2" % i))
        vm.wait_event("BLOCK_JOB_COMPLETED", "q%d" % i)
        done.append(vm.cmd("query-block-jobs")["return"])
    r["block jobs after completed"] = done

    r["resize"] = err(vm.cmd("block_resize", node_name="src", size=8 << 20))
    sizes = {n["node-name"]: n.get("image", {}).get("virtual-size")
             for n in vm.cmd("query-named-block-nodes")["return"]}
    r["resized"] = sizes.get("src")
    r["resize negative"] = err(vm.cmd("block_resize", node_name="src", size=-1))
    r["resize missing"] = err(vm.cmd("block_resize", node_name="nosuch", size=1 << 20))
    vm.quit()
    r["resized file"] = info(src)["virtual-size"]
    return r


def normalise(r, tmp):
    return json.loads(json.dumps(r).replace(tmp, "TMP"))


with tempfile.TemporaryDirectory(prefix="e2kvm-dbk-q-") as tq, \
        tempfile.TemporaryDirectory(prefix="e2kvm-dbk-o-") as to:
    qemu = normalise(scenario("qemu-system-x86_64", "tcg", tq), tq)
    ours = normalise(scenario(SYSTEM, "qtest", to), to)
for key in qemu:
    checker.same(key, qemu[key], ours.get(key), "qemu", "ours")
check(qemu["full data"] and qemu["existing data"], "qemu's own backups match the source")
sys.exit(checker.exit_status("system_drive_backup: all checks passed"))

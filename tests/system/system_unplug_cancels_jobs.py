#!/usr/bin/env python3
"""device_del of a device on a -drive (whose drive goes with it) cancels the block jobs on the
drive's node, as QEMU does for its auto-deleted drives (iotest 040 test_hot_unplug): a
speed-limited block-commit of the middle layer of drive0's three-layer chain, then device_del
of the scsi-hd on drive0; compared with qemu-system-x86_64 -machine pc: the replies, the
events (DEVICE_DELETED and BLOCK_JOB_CANCELLED for drive0) and the jobs left. A device on a
-blockdev node (no drive goes) leaves its job running.
usage: system_unplug_cancels_jobs.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
MiB = 1 << 20


def argv(tool, sock, *extra):
    qmp = ["-nodefaults", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock]
    if tool == "qemu":  # a board with a PCI bus for the controller
        return ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-S"] + qmp + list(extra)
    return [SYSTEM, "-accel", "qtest"] + qmp + list(extra)


def chain(tmp):
    paths = [os.path.join(tmp, name) for name in ("base.qcow2", "mid.qcow2", "top.qcow2")]
    for i, path in enumerate(paths):
        backing = ["-b", paths[i - 1], "-F", "qcow2"] if i else []
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2"] + backing + [path, "4M"],
                       check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P %d 0 4M" % (i + 1), path],
                       check=True, stdout=subprocess.DEVNULL)
    return paths


def scenario(tool, tmp, on_drive):
    base, mid, top = chain(tmp)
    sock = os.path.join(tmp, tool + ".qmp")
    if on_drive:
        disk = ["-drive", "if=none,id=drive0,file=%s,node-name=top,backing.node-name=mid,"
                "backing.backing.node-name=base" % top]
    else:
        disk = ["-blockdev", "driver=qcow2,node-name=top,file.driver=file,file.filename=%s" % top]
    p = SystemProcess(argv(tool, sock, *disk, "-device", "virtio-scsi,id=hba0",
                           "-device", "scsi-hd,id=scsi0,drive=%s" % ("drive0" if on_drive
                                                                    else "top")))
    out = []
    try:
        q = QmpClient(sock)
        job = "drive0" if on_drive else "j"
        out.append(q.cmd("block-commit", device="drive0" if on_drive else "top",
                         top=mid, base=base, speed=MiB, **({} if on_drive else {"job-id": "j"})))
        out.append(q.cmd("device_del", id="scsi0"))
        taken = []
        for name in ["DEVICE_DELETED"] + (["BLOCK_JOB_CANCELLED"] if on_drive else []):
            event = q.wait_event(name)
            if not event:
                return out + ["no " + name]
            taken.append(event)
        time.sleep(0.3)  # a job event that should not come would be in by now
        q.execute("query-status")
        events = sorted((e["event"], e["data"].get("device", e["data"].get("id")))
                        for e in taken + q.events if e["event"] in ("DEVICE_DELETED",
                                                                    "BLOCK_JOB_CANCELLED",
                                                                    "BLOCK_JOB_COMPLETED"))
        out.append(events)
        out.append([(j["id"], j["status"]) for j in q.execute("query-jobs")
                    if j["status"] not in ("concluded", "null")])
        if not on_drive:
            q.cmd("block-job-cancel", device=job, force=True)
            q.wait_event("BLOCK_JOB_CANCELLED")
        q.execute("quit")
        q.close()
        p.wait(30)
        return out
    finally:
        p.kill()


for on_drive in (True, False):
    with tempfile.TemporaryDirectory(prefix="e2kvm-unplugjobs-") as tmp:
        qemu = scenario("qemu", tmp, on_drive)
    with tempfile.TemporaryDirectory(prefix="e2kvm-unplugjobs-") as tmp:
        ours = scenario("ours", tmp, on_drive)
    checker.same("device on a %s" % ("-drive" if on_drive else "-blockdev node"), qemu, ours,
                 "qemu-system-x86_64", "e2kvm-system")

sys.exit(checker.exit_status("unplugging a -drive's device cancels its jobs"))

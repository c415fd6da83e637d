#!/usr/bin/env python3
"""block_set_io_throttle (libvirt's blkdeviotune) in e2kvm-system as in qemu-system-x86_64
-machine none: limits set on a drive, changed, moved into a named group that a second drive
joins (the group's limits are then both drives'), lifted with all zeros; QEMU's errors for bad
limits, a missing member, an unknown drive and a drive without a medium. query-block (and
HMP's info block) show what each step left.
usage: system_io_throttle.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)
ZERO = {k: 0 for k in ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")}


def reply(r):
    return [r["error"]["class"], r["error"]["desc"]] if "error" in r else r["return"]


def limits(q):
    """Per drive: its throttling members of query-block's "inserted" that are set."""
    out = {}
    for b in q.execute("query-block"):
        ins = b.get("inserted")
        if ins is None:
            out[b["device"]] = "no medium"
            continue
        out[b["device"]] = {k: v for k, v in sorted(ins.items())
                            if (k.startswith(("bps", "iops")) and v) or k == "group"}
    return out


def run(tool, tmp):
    out = []
    tmp = os.path.join(tmp, tool)
    os.mkdir(tmp)
    drives = []
    for name in ("a", "b", "c"):
        img = os.path.join(tmp, name + ".qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
        media = ",media=cdrom" if name == "c" else ""
        drives.append("if=none,id=drv%s,file=%s,format=qcow2%s" % (name, img, media))
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock, *[a for d in drives for a in ("-drive", d)]))
    try:
        q = QmpClient(sock)

        def throttle(**kw):
            args = dict(ZERO)
            args.update(kw)
            out.append(reply(q.cmd("block_set_io_throttle", **args)))

        throttle(device="drva", bps=1000000)
        out.append(limits(q))
        throttle(device="drva", bps_rd=2000000, bps_wr=3000000, iops=100, iops_max=200,
                 iops_max_length=3, iops_size=8192)
        out.append(limits(q))
        info = q.execute("human-monitor-command", **{"command-line": "info block drva"})
        out.append([line for line in info.split("\r\n") if "I/O throttling" in line])
        # Into a named group, which a second drive joins: one set of limits for both.
        throttle(device="drva", iops=50, group="shared")
        throttle(device="drvb", bps=4000000, group="shared")
        out.append(limits(q))
        # Lifted on one drive; the other keeps the group.
        throttle(device="drva")
        out.append(limits(q))
        # Errors.
        throttle(device="drvb", bps=1, bps_rd=1)
        throttle(device="drvb", bps=-1)
        throttle(device="drvb", bps=100, bps_max=10)
        throttle(device="drvb", bps=100, bps_max_length=5)
        throttle(device="drvb", bps=100, bps_max=1000, bps_max_length=0)
        throttle(device="drvb", bps=100, bps_max=1000, bps_max_length=10 ** 15)
        throttle(device="drvb", bps=100, iops_size=4096)
        throttle(device="nosuch", bps=1)
        throttle(bps=1)
        out.append(reply(q.cmd("block_set_io_throttle", device="drvb", bps=1)))
        out.append(reply(q.cmd("eject", device="drvc")))
        throttle(device="drvc", bps=1)
        out.append(limits(q))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-throttle-") as tmp:
    checker.same("block_set_io_throttle", run("qemu", tmp), run("ours", tmp), "qemu", "ours")

sys.exit(checker.exit_status("block_set_io_throttle as in qemu-system-x86_64"))

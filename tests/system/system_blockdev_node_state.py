#!/usr/bin/env python3
"""Nodes of the command line's -blockdev are the monitor's as much as blockdev-add's, next to
qemu-system-x86_64 -machine none: after an active block-commit of a -blockdev node it stays
(the monitor still holds it: QEMU iotest 155 TestCommit) while its
device moves to the base, and blockdev-reopen compares with
the node's options (leaving out the backing file the image's header names is refused with
QEMU's words).
usage: system_blockdev_node_state.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def machine_argv(tool, sock, *extra):
    qmp = ["-nodefaults", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock]
    if tool == "qemu":  # a board with a PCI bus for the disk's controller
        return ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-S"] + qmp + list(extra)
    return [SYSTEM, "-accel", "qtest"] + qmp + list(extra)


def scenario(tool, tmp):
    base = os.path.join(tmp, "base.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    below = base
    for name in ("back1.qcow2", "back2.qcow2", "top.qcow2"):
        path = os.path.join(tmp, name)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", below, "-F", "qcow2",
                        path], check=True)
        below = path
    back1 = os.path.join(tmp, "back1.qcow2")
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(
        tool, sock, "-blockdev",
        "driver=qcow2,node-name=source,discard=unmap,file.driver=file,file.node-name=source-file,"
        "file.filename=%s" % top, "-device", "virtio-scsi,id=hba0",
        "-device", "scsi-hd,id=sd0,drive=source"))
    out = []
    try:
        q = QmpClient(sock)
        opts = {"driver": "qcow2", "node-name": "source", "discard": "unmap",
                "file": "source-file"}
        out.append(("reopen without the backing the header names",
                    q.cmd("blockdev-reopen", options=[opts])))
        out.append(("commit", q.cmd("block-commit", device="source", base=back1,
                                    **{"job-id": "c"})))
        ready = q.wait_event("BLOCK_JOB_READY")
        out.append(("ready", bool(ready)))
        out.append(("complete", q.cmd("block-job-complete", device="c")))
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(("completed", done["data"] if done else None))
        # (A node QEMU makes for the base gets a generated name; the numbers differ.)
        out.append(("device's node", [d["inserted"]["node-name"].startswith("#block")
                                      for d in q.execute("query-block")
                                      if d.get("qdev", "").endswith("sd0")]))
        out.append(("nodes", sorted(n["node-name"] for n in q.execute("query-named-block-nodes")
                                    if not n["node-name"].startswith("#"))))
        q.execute("quit")
        q.close()
        p.wait(30)
        return out
    finally:
        p.kill()


with tempfile.TemporaryDirectory(prefix="e2kvm-blockdevstate-") as tmp:
    qemu = scenario("qemu", tmp)
with tempfile.TemporaryDirectory(prefix="e2kvm-blockdevstate-") as tmp:
    ours = scenario("ours", tmp)
for (what, expected), (_, actual) in zip(qemu, ours):
    checker.same(what, expected, actual, "qemu-system-x86_64", "e2kvm-system")
checker.same("steps", len(qemu), len(ours), "qemu-system-x86_64", "e2kvm-system")
sys.exit(checker.exit_status("-blockdev nodes as the monitor's own"))

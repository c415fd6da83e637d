#!/usr/bin/env python3
"""The nodes block jobs leave, in e2kvm-system as in qemu-system-x86_64 -machine none (iotest
141): a drive-backup target with sync=none is an unnamed node ("#blockNNN") that keeps its
source busy; an active block-commit that is cancelled once ready completes without pivot and
leaves its node for blockdev-del; a job that has completed can be dismissed at once.
usage: system_job_nodes.py E2KVM_SYSTEM"""
import os
import re
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


def desc(r):
    if "error" in r:
        return re.sub(r"#block\d{3,}", "NODE_NAME", r["error"]["desc"])
    return r["return"]


def run(tool, tmp):
    out = []
    base = os.path.join(tmp, tool + "-base.qcow2")
    top = os.path.join(tmp, tool + "-top.qcow2")
    top2 = os.path.join(tmp, tool + "-top2.qcow2")
    top3 = os.path.join(tmp, tool + "-top3.qcow2")
    target = os.path.join(tmp, tool + "-target.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    for t in (top, top2, top3):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", t],
                       check=True)
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    try:
        q = QmpClient(sock)
        drv0 = {"driver": "qcow2", "node-name": "drv0",
                "file": {"driver": "file", "filename": top}}
        out.append(desc(q.cmd("blockdev-add", **drv0)))
        out.append(desc(q.cmd("drive-backup", device="drv0", target=target, format="qcow2",
                              sync="none", **{"job-id": "job0"})))
        out.append(desc(q.cmd("blockdev-del", **{"node-name": "drv0"})))
        out.append(desc(q.cmd("block-job-cancel", device="job0")))
        q.wait_event("BLOCK_JOB_CANCELLED")
        out.append(desc(q.cmd("blockdev-del", **{"node-name": "drv0"})))

        # (A second chain: ours releases the first image a moment after the job's end.)
        drv0["file"]["filename"] = top2
        out.append(desc(q.cmd("blockdev-add", **drv0)))
        out.append(desc(q.cmd("block-commit", device="drv0", **{"job-id": "job0"})))
        out.append((q.wait_event("BLOCK_JOB_READY") or {}).get("event"))
        out.append(desc(q.cmd("block-job-cancel", device="job0")))
        out.append(q.wait_event("BLOCK_JOB_COMPLETED")["event"])
        out.append(desc(q.cmd("blockdev-del", **{"node-name": "drv0"})))

        # Dismissed as soon as BLOCK_JOB_COMPLETED is seen (iotest 056).
        drv0["file"]["filename"] = top3
        out.append(desc(q.cmd("blockdev-add", **drv0)))
        out.append(desc(q.cmd("drive-backup", device="drv0", target=target + "2",
                              format="qcow2", sync="full",
                              **{"job-id": "job1", "auto-dismiss": False})))
        q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(desc(q.cmd("block-job-dismiss", id="job1")))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-jobnodes-") as tmp:
    checker.same("job nodes", run("qemu", tmp), run("ours", tmp), "qemu", "ours")

sys.exit(checker.exit_status("job nodes as in qemu-system-x86_64"))

#!/usr/bin/env python3
"""A mirror whose completion would move a parent of its source onto a target whose other parent
does not share what that parent takes fails instead of pivoting, as in qemu-system-x86_64
-machine none (QEMU iotest 041, TestOrphanedSource): blkdebug "dest-perm" over the target
unshares consistent-read, the mirror runs with a named filter, blkdebug "src-perm" over the
source takes consistent-read; block-job-complete then ends the job with the error "Operation
not permitted", every node stays but the filter, and the job events and devices are QEMU's.
A second round without src-perm completes normally.
usage: system_mirror_pivot_perms.py E2KVM_SYSTEM"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def scenario(tool, tmp, take):
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)
        for name in ("src", "dest"):
            out.append(q.cmd("blockdev-add", driver="null-co", size=1 << 20,
                             **{"node-name": name}))
        out.append(q.cmd("blockdev-add", driver="blkdebug", image="dest",
                         **{"node-name": "dest-perm", "unshare-child-perms": ["consistent-read"]}))
        out.append(q.cmd("blockdev-mirror", device="src", target="dest", sync="full",
                         **{"job-id": "job", "filter-node-name": "mirror-filter"}))
        if take:
            out.append(q.cmd("blockdev-add", driver="blkdebug", image="src",
                             **{"node-name": "src-perm", "take-child-perms": ["consistent-read"]}))
        if not q.wait_event("BLOCK_JOB_READY"):
            return out + ["no BLOCK_JOB_READY"]
        out.append(q.cmd("block-job-complete", device="job"))
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(done["data"] if done else "no BLOCK_JOB_COMPLETED")
        out.append(sorted(n["node-name"] for n in q.execute("query-named-block-nodes")
                          if not n["node-name"].startswith("#")))
        out.append(q.execute("query-jobs"))
        q.execute("quit")
        q.close()
        p.wait(30)
        return out
    finally:
        p.kill()


for take in (True, False):
    with tempfile.TemporaryDirectory(prefix="e2kvm-pivotperm-") as tmp:
        qemu = scenario("qemu", tmp, take)
        ours = scenario("ours", tmp, take)
    checker.same("src-perm %s" % ("taking consistent-read" if take else "absent"), qemu, ours,
                 "qemu-system-x86_64", "e2kvm-system")

sys.exit(checker.exit_status("a pivot its parents' permissions forbid fails the mirror"))

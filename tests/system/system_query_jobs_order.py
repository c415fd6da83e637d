#!/usr/bin/env python3
"""query-jobs and query-block-jobs list the newest job first, in e2kvm-system as in
qemu-system-x86_64 -machine none (QEMU adds a job at the head of its list; ours listed them
oldest first). Three speed-limited backups between null-co nodes, so that all three still run
when they are listed.
usage: system_query_jobs_order.py E2KVM_SYSTEM"""
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
JOBS = ["first", "second", "third"]


def listed(tool, tmp):
    """The job ids query-jobs and query-block-jobs list, and any reply that was not {}."""
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    try:
        q = QmpClient(sock)
        failures = []
        for i, job in enumerate(JOBS):
            for role in ("src", "tgt"):
                r = q.cmd("blockdev-add", driver="null-co", size=64 << 20,
                          **{"node-name": "%s%d" % (role, i)})
                if r != {"return": {}}:
                    failures.append(r)
            r = q.cmd("blockdev-backup", device="src%d" % i, target="tgt%d" % i, sync="full",
                      speed=1, **{"job-id": job})
            if r != {"return": {}}:
                failures.append(r)
        jobs = [j["id"] for j in q.execute("query-jobs")]
        block_jobs = [j["device"] for j in q.execute("query-block-jobs")]
        q.execute("quit")
        q.close()
        p.wait(30)
        return {"query-jobs": jobs, "query-block-jobs": block_jobs, "failures": failures}
    finally:
        p.kill()


with tempfile.TemporaryDirectory(prefix="e2kvm-jobsorder-") as tmp:
    qemu = listed("qemu", tmp)
    ours = listed("ours", tmp)
    newest_first = list(reversed(JOBS))
    checker.same("qemu's query-jobs", newest_first, qemu["query-jobs"], "the peer's rule")
    for what in ("query-jobs", "query-block-jobs", "failures"):
        checker.same(what, qemu[what], ours[what], "as qemu-system-x86_64")

sys.exit(checker.exit_status("jobs listed newest first"))

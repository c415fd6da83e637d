#!/usr/bin/env python3
"""block-commit over blkdebug nodes that fail one request (iotest 040 TestErrorHandling), in
e2kvm-system as in qemu-system-x86_64 -machine none. The chain base (raw) <- mid <- top (qcow2)
is made of blockdev-add nodes whose file may be a blkdebug node with an inject-error rule on
read_aio or write_aio (once, at one sector of the file): a read of the top or a write to mid in
an active commit, a read of mid or a write to the raw base in a commit of mid. For each of the
policies on-error=report, stop (resumed on the event) and ignore, the job's BLOCK_JOB_* events
(READY answered by block-job-complete) and whether the base then matches the committed layer
must be QEMU's.
usage: system_commit_blkdebug_errors.py E2KVM_SYSTEM"""
import json
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
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)
JOB_EVENTS = ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED", "BLOCK_JOB_ERROR", "BLOCK_JOB_READY")


def images(tmp):
    base, mid, top = (os.path.join(tmp, n) for n in ("base.raw", "mid.qcow2", "top.qcow2"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", base, "2M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "raw", mid],
                   check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top],
                   check=True)
    for pattern, image in (("0x11", mid), ("0x22", top)):
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P %s 0 512k" % pattern, image],
                       check=True, stdout=subprocess.DEVNULL)
    return base, mid, top


def run_job(q, policy):
    """The job's events until it completes, answering READY with complete and (stop) ERROR
    with resume, as iotest 040's run_job does."""
    log = []
    deadline = time.time() + 30
    while time.time() < deadline:
        while q.events:
            e = q.events.pop(0)
            if e["event"] not in JOB_EVENTS:
                continue
            log.append([e["event"], e["data"]])
            if e["event"] == "BLOCK_JOB_ERROR" and policy == "stop":
                log.append(["resume", q.cmd("block-job-resume", device="job0")])
            elif e["event"] == "BLOCK_JOB_READY":
                log.append(["complete", q.cmd("block-job-complete", device="job0")])
            elif e["event"] != "BLOCK_JOB_ERROR":
                return log
        time.sleep(0.02)
        q.cmd("query-version")
    log.append("no end within 30 s")
    return log


def run(tool, tmp, policy, active, failing, op):
    base, mid, top = images(tmp)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)

        def add(**args):
            r = q.cmd("blockdev-add", **args)
            out.append(r.get("error", {}).get("desc") if "error" in r else r["return"])

        for name, path in (("base", base), ("mid", mid), ("top", top)):
            add(**{"node-name": name + "-file", "driver": "file", "filename": path})
        # sector 1024 of a qcow2 file is in the top's (or mid's) data; sector 512 of the raw
        # base in the range the commit writes.
        add(**{"node-name": failing + "-dbg", "driver": "blkdebug", "image": failing + "-file",
               "inject-error": [{"event": op + "_aio", "once": True,
                                 "sector": 512 if failing == "base" else 1024}]})

        def file_of(name):
            return name + ("-dbg" if name == failing else "-file")

        add(**{"node-name": "base-fmt", "driver": "raw", "file": file_of("base")})
        add(**{"node-name": "mid-fmt", "driver": "qcow2", "file": file_of("mid"),
               "backing": "base-fmt"})
        add(**{"node-name": "top-fmt", "driver": "qcow2", "file": file_of("top"),
               "backing": "mid-fmt"})
        r = q.cmd("block-commit", **{"job-id": "job0", "device": "top-fmt",
                                     "top-node": "top-fmt" if active else "mid-fmt",
                                     "base-node": "mid-fmt" if active else "base-fmt",
                                     "on-error": policy})
        out.append(r)
        if "return" in r:
            out.append(run_job(q, policy))
        q.cmd("quit")
        p.wait(30)
    finally:
        p.kill()
    if active:
        compared = ["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", top, mid]
    else:
        compared = ["qemu-img", "compare", "-f", "qcow2", "-F", "raw", mid, base]
    out.append(["base matches", subprocess.run(compared, capture_output=True).returncode])
    return out


CASES = [(policy, active, failing, op)
         for active, failing, op in ((True, "top", "read"), (True, "mid", "write"),
                                     (False, "mid", "read"), (False, "base", "write"))
         for policy in ("report", "stop", "ignore")]

with tempfile.TemporaryDirectory(prefix="e2kvm-commiterr-") as tmp:
    for policy, active, failing, op in CASES:
        what = "%s commit, %s error in %s, on-error=%s" % (
            "active" if active else "intermediate", op, failing, policy)
        results = {}
        for tool in ("qemu", "ours"):
            d = os.path.join(tmp, "%s-%s-%s-%s" % (tool, policy, failing, op))
            os.mkdir(d)
            results[tool] = json.dumps(run(tool, d, policy, active, failing, op), indent=1)
        checker.same(what, results["qemu"], results["ours"], "qemu-system", "e2kvm-system")
        checker.check('"BLOCK_JOB_ERROR"' in results["ours"], what + ": no BLOCK_JOB_ERROR")

sys.exit(checker.exit_status("block-commit with injected errors as in qemu-system-x86_64"))

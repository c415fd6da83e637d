#!/usr/bin/env python3
"""block-commit into a base that another drive has open read-only (iotest 249), in e2kvm-system
as in qemu-system-x86_64 -machine none: a -drive whose backing layer is named and takes an
existing node as its own backing (backing.node-name=int,backing.backing=base) opens; a commit
with an invalid filter-node-name reports its job as created and gone before the error; a
commit that succeeds leaves the base's own drive read-only (HMP qemu-io's "Block node is
read-only" before and after).
usage: system_commit_readonly_base.py E2KVM_SYSTEM"""
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

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def reply(r):
    return {"error": r["error"]["desc"]} if "error" in r else r["return"]


def job_events(q):
    """The job status changes and completions received so far, in order (then forgotten)."""
    out = []
    for e in q.events:
        if e["event"] == "JOB_STATUS_CHANGE":
            out.append(e["data"]["status"])
        elif e["event"].startswith("BLOCK_JOB_"):
            out.append(e["event"])
    q.events.clear()
    return out


def run(tool, tmp):
    out = []
    base = os.path.join(tmp, tool + ".base")
    mid = os.path.join(tmp, tool + ".int")
    top = os.path.join(tmp, tool + ".top")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", mid],
                   check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 64k", mid], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top],
                   check=True)
    sock = os.path.join(tmp, tool + ".qmp")
    drives = ["-drive", "if=none,file=%s,node-name=base,read-only=on" % base,
              "-drive", "if=none,file=%s,backing.node-name=int,backing.backing=base" % top]
    p = SystemProcess(machine_argv(tool, sock) + drives)
    try:
        q = QmpClient(sock)
        write = {"command-line": 'qemu-io none0 "aio_write 0 2k"'}
        out.append(reply(q.cmd("human-monitor-command", **write)))
        out.append(reply(q.cmd("block-commit", device="none1", **{
            "job-id": "job0", "top-node": "int", "filter-node-name": "1234"})))
        out.append(job_events(q))
        out.append(reply(q.cmd("human-monitor-command", **write)))
        out.append(reply(q.cmd("block-commit", device="none1", **{
            "job-id": "job0", "top-node": "int"})))
        out.append(bool(q.wait_event("BLOCK_JOB_COMPLETED")))
        out.append(reply(q.cmd("human-monitor-command", **write)))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    # The committed data is in the base, which the top now names.
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", top], check=True,
                          capture_output=True, text=True).stdout
    out.append(os.path.basename(__import__("json").loads(info).get("backing-filename", "")))
    r = subprocess.run(["qemu-io", "-r", "-U", "-c", "read -P 0x5a 0 64k", base],
                       capture_output=True, text=True)
    out.append("Pattern verification failed" not in r.stdout and r.returncode == 0)
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-commitro-") as tmp:
    qemu = run("qemu", tmp)
    ours = run("ours", tmp)
    checker.same("commit into a read-only base",
                 [str(x).replace("qemu.", "X.") for x in qemu],
                 [str(x).replace("ours.", "X.") for x in ours], "qemu", "ours")

sys.exit(checker.exit_status("block-commit into a read-only base as in qemu-system-x86_64"))

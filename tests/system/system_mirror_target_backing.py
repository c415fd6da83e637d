#!/usr/bin/env python3
"""A mirror target opened without its backing chain gets one before the job completes, as QEMU
iotest 155 does it, next to qemu-system-x86_64 -machine none: blockdev-snapshot with the target
as overlay (allowed: the mirror only writes its target; a node something reads stays refused),
or blockdev-reopen of the target with a backing node. Compared: every answer, the target's
backing node after the pivot, and what the device reads.
usage: system_mirror_target_backing.py E2KVM_SYSTEM"""
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
from system_harness import SystemProcess, read_results  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def scenario(tool, tmp, how):
    base = os.path.join(tmp, "base.qcow2")
    source = os.path.join(tmp, "source.qcow2")
    target = os.path.join(tmp, "target.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "2M"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", base], check=True,
                   stdout=subprocess.DEVNULL)
    for image in (source, target):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        image], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 1M 1M", source], check=True,
                   stdout=subprocess.DEVNULL)
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)
        out.append(q.cmd("blockdev-add", driver="qcow2", **{"node-name": "source"},
                         file={"driver": "file", "filename": source}))
        target_opts = {"driver": "qcow2", "node-name": "target", "backing": None,
                       "file": {"driver": "file", "filename": target,
                                "node-name": "target-file"}}
        out.append(q.cmd("blockdev-add", **target_opts))
        out.append(q.cmd("blockdev-mirror", device="source", target="target", sync="top",
                         **{"job-id": "m", "auto-finalize": False}))
        if not q.wait_event("BLOCK_JOB_READY"):
            return out + ["no BLOCK_JOB_READY"]
        out.append(q.cmd("blockdev-add", driver="qcow2", **{"node-name": "backing"},
                         file={"driver": "file", "filename": base}, **{"read-only": True}))
        # The source is read by the job: it cannot become an overlay.
        out.append(q.cmd("blockdev-snapshot", node="backing", overlay="source"))
        if how == "snapshot":
            out.append(q.cmd("blockdev-snapshot", node="backing", overlay="target"))
        else:
            target_opts.update(backing="backing", file="target-file")
            out.append(q.cmd("blockdev-reopen", options=[target_opts]))
        out.append(q.cmd("block-job-complete", device="m"))
        q.wait_event("BLOCK_JOB_PENDING")
        out.append(q.cmd("job-finalize", id="m"))
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(done["data"] if done else "no BLOCK_JOB_COMPLETED")
        nodes = {n["node-name"]: n for n in q.execute("query-named-block-nodes")}
        out.append(nodes["target"]["image"].get("backing-image", {}).get("filename", "")
                   .replace(tmp, "TMP"))
        for pattern, offset in ((0x11, 0), (0x22, 1)):
            r = q.cmd("human-monitor-command", **{
                "command-line": "qemu-io target \"read -P 0x%x %dM 1M\"" % (pattern, offset)})
            out.append(r)
        q.execute("quit")
        q.close()
        p.proc.wait(30)
        time.sleep(0.2)  # the last output read off the pipe
        out.append(read_results(p.out))
        return out
    finally:
        p.kill()


for how in ("snapshot", "reopen"):
    with tempfile.TemporaryDirectory(prefix="e2kvm-mirrortb-") as tmp:
        qemu = scenario("qemu", tmp, how)
    with tempfile.TemporaryDirectory(prefix="e2kvm-mirrortb-") as tmp:
        ours = scenario("ours", tmp, how)
    checker.same("backing attached by " + how, qemu, ours, "qemu-system-x86_64", "e2kvm-system")

sys.exit(checker.exit_status("a mirror target's backing attached before completion"))

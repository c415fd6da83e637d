#!/usr/bin/env python3
"""HMP's block_resize through human-monitor-command, against qemu-system-x86_64 -machine none
-nodefaults with -qmp stdio (iotest 246 resizes a drive with it): sizes with and without a unit
(mebibytes), the drive named by its id only, and the answers to a missing, bad or trailing size.
usage: system_hmp_block_resize.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from stdio_qmp import stdio_qmp_replies  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def hmp(line):
    return {"execute": "human-monitor-command", "arguments": {"command-line": line}}


SIZE = {"execute": "query-block"}


def session(tool, extra, commands):
    """The replies (events left out; of query-block, each drive's virtual size)."""
    replies, status = stdio_qmp_replies(tool, SYSTEM, extra, commands)
    for i, msg in enumerate(replies):
        ret = msg.get("return")
        if isinstance(ret, list):
            replies[i] = [(d["device"], d["inserted"]["image"]["virtual-size"]) for d in ret]
    return replies, status


LINES = ["block_resize drive0 2", "block_resize drive0 3M", "block_resize drive0 1.5G",
         "block_resize drive0 4096k", "block_resize drive0  8 ", "block_resize nope 2",
         "block_resize d0node 4", "block_resize drive0", "block_resize drive0 abc",
         "block_resize drive0 -1", "block_resize drive0 5x", "block_resize",
         "block_resize drive0 99999999999999999999"]

with tempfile.TemporaryDirectory(prefix="e2kvm-hmpresize-") as tmp:
    disk = os.path.join(tmp, "disk.qcow2")
    results = {}
    for tool in ("qemu", "ours"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"], check=True)
        commands = [{"execute": "qmp_capabilities"}]
        for line in LINES:
            commands += [hmp(line), SIZE]
        commands.append({"execute": "quit"})
        results[tool] = session(tool, [
            "-drive", "if=none,id=drive0,file=%s,format=qcow2,node-name=d0node" % disk],
            commands)
        os.unlink(disk)
    checker.same("block_resize replies and sizes", results["qemu"], results["ours"],
                 "qemu", "ours")

sys.exit(checker.exit_status("HMP block_resize as in qemu-system-x86_64"))

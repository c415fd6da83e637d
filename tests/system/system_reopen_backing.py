#!/usr/bin/env python3
"""blockdev-reopen gives a qcow2 node another backing node or none, as in qemu-system-x86_64
-machine none (QEMU iotests 245 and 155 do this): three images hd0..hd2 (hd1 naming hd0's file
as its backing file in its header, the others none), opened with backing null; then links made,
moved and cut, with what each node reads (HMP qemu-io), the backing-image query-named-block-nodes
shows, and the refusals: a node that does not exist, a loop, a node in use as a backing file
(blockdev-del), leaving out "backing" while the header names a backing file, and a link a
running stream holds.
usage: system_reopen_backing.py E2KVM_SYSTEM"""
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
MiB = 1 << 20


def scenario(tool, tmp):
    paths = [os.path.join(tmp, "hd%d.qcow2" % i) for i in range(3)]
    for i, path in enumerate(paths):
        backing = ["-b", paths[0], "-F", "qcow2"] if i == 1 else []
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2"] + backing + [path, "3M"],
                       check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xa%d %dM 1M" % (i, i), path],
                       check=True, stdout=subprocess.DEVNULL)

    def opts(i, **extra):
        o = {"driver": "qcow2", "node-name": "hd%d" % i,
             "file": {"driver": "file", "filename": paths[i], "node-name": "hd%d-file" % i}}
        o.update(extra)
        return o

    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)

        def reopen(what, o):
            r = q.cmd("blockdev-reopen", options=[o])
            out.append((what, r))

        def reads(node, *patterns):
            for off, pattern in enumerate(patterns):
                r = q.cmd("human-monitor-command", **{
                    "command-line": "qemu-io %s \"read -P 0x%x %dM 1M\"" % (node, pattern, off)})
                out.append(("%s reads 0x%x at %dM: reply" % (node, pattern, off), r))

        def backing_files():
            nodes = q.execute("query-named-block-nodes")
            out.append(("backing images", sorted(
                (n["node-name"], n["image"].get("backing-image", {}).get("filename", "")
                 .replace(tmp, "TMP")) for n in nodes if n["node-name"] in ("hd0", "hd1", "hd2"))))

        for i in range(3):
            out.append(("add hd%d" % i, q.cmd("blockdev-add", **opts(i, backing=None))))
        reopen("hd0 onto hd1", opts(0, backing="hd1"))
        reads("hd0", 0xa0, 0xa1, 0)
        reopen("hd2 onto hd1", opts(2, backing="hd1"))
        reopen("hd0 onto hd2", opts(0, backing="hd2"))
        reads("hd0", 0xa0, 0xa1, 0xa2)
        backing_files()
        reopen("hd1 onto hd0: a loop", opts(1, backing="hd0"))
        reopen("hd1 onto itself", opts(1, backing="hd1"))
        reopen("hd1 onto a node that is not", opts(1, backing="not-found"))
        out.append(("blockdev-del of a backing node", q.cmd("blockdev-del", **{"node-name": "hd2"})))
        reopen("hd2 cut off", opts(2, backing=None))
        reads("hd0", 0xa0, 0, 0xa2)
        reopen("hd1 without backing: its header names one", opts(1))
        reopen("hd0 cut off", opts(0, backing=None))
        backing_files()
        out.append(("blockdev-del of a free node", q.cmd("blockdev-del", **{"node-name": "hd2"})))
        # A stream holds the links from its top down.
        reopen("hd0 onto hd1 again", opts(0, backing="hd1"))
        out.append(("stream into hd0", q.cmd("block-stream", device="hd0", speed=1,
                                             **{"job-id": "s"})))
        reopen("hd0 cut off while streamed", opts(0, backing=None))
        out.append(("cancel", q.cmd("block-job-cancel", device="s", force=True)))
        q.wait_event("BLOCK_JOB_CANCELLED")
        q.execute("quit")
        q.close()
        p.proc.wait(30)
        time.sleep(0.2)  # the last output read off the pipe
        out.append(("the reads' patterns", read_results(p.out)))
        return out
    finally:
        p.kill()


with tempfile.TemporaryDirectory(prefix="e2kvm-reopenbacking-") as tmp:
    qemu = scenario("qemu", tmp)
with tempfile.TemporaryDirectory(prefix="e2kvm-reopenbacking-") as tmp:
    ours = scenario("ours", tmp)
for (what, expected), (_, actual) in zip(qemu, ours):
    checker.same(what, expected, actual, "qemu-system-x86_64", "e2kvm-system")
checker.same("steps", len(qemu), len(ours), "qemu-system-x86_64", "e2kvm-system")
sys.exit(checker.exit_status("blockdev-reopen changes backing links as QEMU's"))

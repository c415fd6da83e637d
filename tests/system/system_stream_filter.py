#!/usr/bin/env python3
"""block-stream's filter node and the links a stream and a commit hold, next to
qemu-system-x86_64 (-machine none -nodefaults) given the same QMP, as QEMU's iotest 030
(TestParallelOps) uses them. A nine-layer qcow2 chain opened by one -drive (node0 .. node8,
node8 on top; the layers below the top are read-only):
1. block-stream into node4 down to node1 with filter-node-name "stream-filter": the filter is a
   named copy-on-read node while the job runs, and a walk from above meets it first (a stream
   into node5 is refused naming the filter, a commit from the top too); a stream into node4
   again names node4; a commit whose top's overlay (node2) the stream holds is refused, and
   so is a second filter of the same name; after the cancel the filter is gone.
2. block-commit of node2 into node0 with filter-node-name "commit-filter": a stream into node4
   down to node2 would hold the link to the commit's filter: refused ("Cannot freeze 'backing'
   link to 'commit-filter'"); with the filter itself as base-node it runs, and both jobs end.
Compared: every answer, the named nodes with their drivers while the jobs run, and the job
events' kinds.
usage: system_stream_filter.py E2KVM_SYSTEM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SKIP = 77
SYSTEM = sys.argv[1]
QEMU = shutil.which("qemu-system-x86_64")
checker = Checker(sys.stderr)
if peers.missing("qemu-system-x86_64", "qemu-img", "qemu-io"):
    print("SKIP: needs qemu-system-x86_64, qemu-img and qemu-io")
    sys.exit(SKIP)

LAYERS = 9
MiB = 1 << 20
# Our jobs keep to it: a job copies its first chunk at once and then waits seconds for the
# next, so the checks run while it works. QEMU's let one chunk through every 100 ms whatever
# the speed: its jobs have 16 MiB to copy, 32 chunks, so they work for seconds too.
SPEED = 64 * 1024


def make_chain(tmp):
    images = [os.path.join(tmp, "img%d.qcow2" % i) for i in range(LAYERS)]
    for i, image in enumerate(images):
        args = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if i:
            args += ["-b", images[i - 1], "-F", "qcow2"]
        subprocess.run(args + [image, str(32 * MiB)], check=True)
        # Each layer holds 8 MiB where its neighbours hold nothing, so every job has many
        # chunks to copy.
        subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                        "write -P 0x%x %d 8M" % (i + 1, (i % 4) * 8 * MiB), image],
                       check=True, stdout=subprocess.DEVNULL)
    return images


def drive_option(images):
    spec = "if=none,id=drive0,file=%s,node-name=node%d" % (images[-1], LAYERS - 1)
    prefix = ""
    for i in range(LAYERS - 2, -1, -1):
        prefix += "backing."
        spec += ",%snode-name=node%d" % (prefix, i)
    return spec


class Vm:
    def __init__(self, prog, tmp, images):
        self.tmp = tmp
        sock = os.path.join(tmp, "qmp.sock")
        argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
        if prog != QEMU:
            argv += ["-serial", "none", "-S"]
        argv += ["-drive", drive_option(images), "-qmp", "unix:%s,server=on,wait=off" % sock]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        self.qmp = QmpClient(sock, timeout=60)

    def cmd(self, command, **args):
        r = self.qmp.cmd(command, **args)
        return json.loads(json.dumps(r).replace(self.tmp, "TMP"))

    def nodes(self):
        return sorted((n["node-name"], n["drv"]) for n in self.cmd("query-named-block-nodes")
                      ["return"] if not n["node-name"].startswith("#"))

    def wait_gone(self, jid, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if jid not in [j["id"] for j in self.cmd("query-jobs")["return"]]:
                return True
            time.sleep(0.05)
        return False

    def close(self):
        try:
            self.qmp.cmd("quit")
            self.qmp.close()
            self.proc.wait(timeout=30)
        finally:
            self.proc.kill()


def scenario(prog):
    out = []
    with tempfile.TemporaryDirectory(prefix="e2kvm-streamfilter-") as tmp:
        vm = Vm(prog, tmp, make_chain(tmp))
        try:
            img = lambda i: os.path.join(tmp, "img%d.qcow2" % i)  # noqa: E731
            out.append(("stream node4 with filter",
                        vm.cmd("block-stream", device="node4", **{"job-id": "s4"},
                               base=img(1), speed=SPEED, **{"filter-node-name": "stream-filter"})))
            out.append(("nodes while streaming", vm.nodes()))
            out.append(("stream node5 meets the filter",
                        vm.cmd("block-stream", device="node5", **{"job-id": "s5"}, base=img(2))))
            out.append(("stream node3",
                        vm.cmd("block-stream", device="node3", **{"job-id": "s3"}, base=img(2))))
            out.append(("stream node4 again",
                        vm.cmd("block-stream", device="node4", **{"job-id": "s4b"})))
            out.append(("commit from the top meets the filter",
                        vm.cmd("block-commit", device="drive0", **{"job-id": "c"},
                               base=img(4))))
            out.append(("commit of node3",
                        vm.cmd("block-commit", device="drive0", **{"job-id": "c1"},
                               top=img(3), base=img(1))))
            out.append(("commit whose overlay the stream holds",
                        vm.cmd("block-commit", device="drive0", **{"job-id": "c0"},
                               top=img(1), base=img(0))))
            out.append(("duplicate filter name",
                        vm.cmd("block-stream", device="node7", **{"job-id": "s7"},
                               **{"base-node": "node6", "filter-node-name": "stream-filter"})))
            out.append(("cancel", vm.cmd("block-job-cancel", device="s4")))
            out.append(("stream gone", vm.wait_gone("s4")))
            out.append(("nodes after the stream", vm.nodes()))

            out.append(("commit node2 with filter",
                        vm.cmd("block-commit", device="drive0", **{"job-id": "commit"},
                               **{"top-node": "node2", "base-node": "node0",
                                  "filter-node-name": "commit-filter"}, speed=SPEED)))
            out.append(("stream node4 holding the link to the commit's filter",
                        vm.cmd("block-stream", device="node4", **{"job-id": "s4",
                                                                  "base-node": "node2"})))
            out.append(("stream node4 onto the commit's filter",
                        vm.cmd("block-stream", device="node4", **{"job-id": "s4",
                                                                  "base-node": "commit-filter"})))
            out.append(("commit at full speed",
                        vm.cmd("block-job-set-speed", device="commit", speed=0)))
            out.append(("jobs end", (vm.wait_gone("commit"), vm.wait_gone("s4"))))
            out.append(("nodes at the end", vm.nodes()))
            out.append(("job events", sorted(
                (e["event"], e["data"].get("device", e["data"].get("id")))
                for e in vm.qmp.events if e["event"].startswith("BLOCK_JOB"))))
        finally:
            vm.close()
    return out


theirs = scenario(QEMU)
ours = scenario(SYSTEM)
for (what, expected), (_, actual) in zip(theirs, ours):
    checker.same(what, expected, actual, "qemu-system-x86_64", "e2kvm-system")
sys.exit(checker.exit_status("stream filter and held links as QEMU's"))

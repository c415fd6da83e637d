#!/usr/bin/env python3
"""blockdev-backup refused with QEMU's permission conflict when a node under the source is
written by another node (blkdebug's take-child-perms: write, iotest 283), against
qemu-system-x86_64 -machine none; accepted once that node is gone. Also a -drive whose file
is a blkdebug node given by file.* options and no format: the format is probed through it.
usage: system_permission_conflict.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from stdio_qmp import stdio_qmp_argv  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
SIZE = 1 << 20

COMMANDS = [
    {"execute": "qmp_capabilities"},
    {"execute": "blockdev-add",
     "arguments": {"node-name": "target", "driver": "null-co", "size": SIZE}},
    {"execute": "blockdev-add",
     "arguments": {"node-name": "source", "driver": "blkdebug",
                   "image": {"node-name": "base", "driver": "null-co", "size": SIZE}}},
    {"execute": "blockdev-add",
     "arguments": {"node-name": "other", "driver": "blkdebug", "image": "base",
                   "take-child-perms": ["write"]}},
    {"execute": "blockdev-backup",
     "arguments": {"device": "source", "target": "target", "sync": "full", "job-id": "b0"}},
    {"execute": "blockdev-del", "arguments": {"node-name": "other"}},
    {"execute": "blockdev-add",
     "arguments": {"node-name": "reader", "driver": "blkdebug", "image": "base"}},
    {"execute": "blockdev-backup",
     "arguments": {"device": "source", "target": "target", "sync": "full", "job-id": "b1"}},
    {"execute": "query-block"},
    {"execute": "quit"},
]


def session(tool, disk):
    text = "".join(json.dumps(c) + "\n" for c in COMMANDS)
    p = subprocess.run(stdio_qmp_argv(tool, SYSTEM) +
                       ["-drive", "if=none,id=drv0,file.driver=blkdebug,file.image.filename=" +
                        disk],
                       input=text, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=60)
    out = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if "QMP" in r or "event" in r:
            continue
        if isinstance(r.get("return"), list):  # query-block: the drive's format and size
            r = [(d["device"], d["inserted"]["drv"], d["inserted"]["image"]["virtual-size"])
                 for d in r["return"]]
        out.append(r)
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-permconflict-") as tmp:
    disk = os.path.join(tmp, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", disk, "3M")
    q = session("qemu", disk)
    o = session("ours", disk)
    checker.check(len(q) > 4 and "Permission conflict" in json.dumps(q[4]),
                  "qemu-system refused the backup")
    checker.same("replies", q, o, "qemu", "ours")

sys.exit(checker.exit_status("system_permission_conflict: all checks passed"))

#!/usr/bin/env python3
"""QMP query-blockstats (iotest 227) against qemu-system-x86_64 (-machine pc -S: no guest code
runs): a drive no device uses and a virtio-blk device on a -blockdev node, before and after
qemu-io's aio_write and aio_read through the device (HMP qemu-io -d, by the QOM path of its
virtio backend): bytes, operations, the highest write, idle time present; then with query-nodes. Times are masked to
whether they are zero; generated node names are masked.
usage: system_blockstats.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)

BACKEND = "/machine/peripheral/virtio0/virtio-backend"


def qemu_io(command):
    return {"execute": "human-monitor-command",
            "arguments": {"command-line": 'qemu-io -d %s "%s"' % (BACKEND, command)}}


COMMANDS = [
    {"execute": "qmp_capabilities"},
    {"execute": "query-blockstats"},
    qemu_io("aio_write -P 1 4096 64k"),
    qemu_io("aio_read 4096 4k"),
    qemu_io("aio_write -P 2 1M 8k"),
    {"execute": "query-blockstats"},
    {"execute": "query-blockstats", "arguments": {"query-nodes": False}},
    {"execute": "query-blockstats", "arguments": {"query-nodes": True}},
    {"execute": "quit"},
]


def masked(value):
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k.endswith("_time_ns"):
                out[k] = "T" if v else 0
            elif k == "node-name" and v != "null":
                out[k] = "GENERATED"  # QEMU: "#blockNNN" for the drive's node
            else:
                out[k] = masked(v)
        return out
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def session(argv):
    text = "".join(json.dumps(c) + "\n" for c in COMMANDS)
    p = subprocess.run(argv + ["-S", "-nodefaults", "-display", "none", "-nographic", "-qmp",
                               "stdio", "-serial", "none",
                               "-drive", "driver=null-co,if=none",
                               "-blockdev", "null-co,node-name=null,size=2097152",
                               "-device", "virtio-blk,drive=null,id=virtio0"],
                       input=text, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=60)
    replies = []
    for line in p.stdout.splitlines():
        if line.startswith("{"):  # qemu-io's statistics go to stdout too
            reply = json.loads(line)
            if "return" in reply or "error" in reply:
                replies.append(json.dumps(masked(reply)))
    return replies


q = session(["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg"])
o = session([SYSTEM, "-accel", "qtest"])
checker.check(len(q) == len(COMMANDS) and '"wr_bytes": 73728' in q[6] and '"wr_highest_offset": 1056768' in q[6], "qemu-system counted")
for i in range(max(len(q), len(o))):
    checker.same("reply %d" % i, q[i] if i < len(q) else None, o[i] if i < len(o) else None,
                 "qemu", "ours")
sys.exit(checker.exit_status("system_blockstats: all checks passed"))

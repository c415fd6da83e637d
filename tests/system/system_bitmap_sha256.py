#!/usr/bin/env python3
"""x-debug-block-dirty-bitmap-sha256 (iotests 165, 176, 236) next to qemu-system-x86_64
-machine none: the digest of an empty bitmap, of one with granules dirtied by writes (the
first, the last, a run across a 64-granule word) and of a cleared one, at two granularities
and an odd disk size; its errors (unknown node, unknown bitmap, a missing argument).
usage: system_bitmap_sha256.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)


def sha(name, node="d0"):
    return {"execute": "x-debug-block-dirty-bitmap-sha256",
            "arguments": {"node": node, "name": name}}


def write(offset, length):
    return {"execute": "human-monitor-command",
            "arguments": {"command-line": 'qemu-io d0 "write %d %d"' % (offset, length)}}


SCRIPT = [
    {"execute": "qmp_capabilities"},
    sha("b", "nosuch"),
    sha("b"),
    {"execute": "x-debug-block-dirty-bitmap-sha256", "arguments": {"node": "d0"}},
    {"execute": "block-dirty-bitmap-add", "arguments": {"node": "d0", "name": "b"}},
    {"execute": "block-dirty-bitmap-add",
     "arguments": {"node": "d0", "name": "small", "granularity": 512}},
    sha("b"), sha("small"),
    write(0, 512), sha("b"), sha("small"),
    write(60 * 65536, 5 * 65536), sha("b"), sha("small"),
    write(100 * 65536 - 512, 512), sha("b"), sha("small"),
    {"execute": "block-dirty-bitmap-clear", "arguments": {"node": "d0", "name": "b"}},
    sha("b"),
    {"execute": "quit"},
]


def session(argv, image):
    run("qemu-img", "create", "-q", "-f", "qcow2", image, str(100 * 65536 - 512))
    script = "".join(json.dumps(m) + "\n" for m in SCRIPT)
    p = subprocess.run(argv + ["-machine", "none", "-nodefaults", "-display", "none",
                               "-qmp", "stdio", "-drive", "if=none,id=d0,file=" + image],
                       input=script, capture_output=True, text=True, timeout=60)
    replies = []
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue  # qemu-io's output on stdout
        m = json.loads(line)
        if "QMP" not in m and "event" not in m:
            replies.append(m)
    return p.returncode, replies


with tempfile.TemporaryDirectory(prefix="e2kvm-sha-") as tmp:
    qemu = session(["qemu-system-x86_64", "-accel", "tcg"], os.path.join(tmp, "q.qcow2"))
    ours = session([SYSTEM], os.path.join(tmp, "o.qcow2"))
checker.check(len(qemu[1]) == len(SCRIPT), "qemu-system answered every command: %r" % (qemu,))
checker.same("x-debug-block-dirty-bitmap-sha256 session", qemu, ours, "qemu", "ours")
sys.exit(checker.exit_status("system_bitmap_sha256: all checks passed"))

#!/usr/bin/env python3
"""blockdev-reopen against qemu-system-x86_64 -machine none: a raw node's size dropped and set
again (its virtual size follows), a transaction with a bad member changing nothing, QEMU's
errors for a missing file, a missing or unknown node-name, a changed driver or filename, and a qcow2 node's
file child replaced by a raw node over the same file (iotest reopen-file), with I/O through
the node afterwards; a qcow2 node's allocations past a raw window's size failing with ENOSPC,
and growing the file once the size is dropped; an overwrite of a cluster the qcow2 node has
past the window failing with ENOSPC too (iotest 248), and succeeding once the size is dropped.
usage: system_blockdev_reopen.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from stdio_qmp import stdio_qmp_argv  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def commands(raw, qcow2):
    win = {"driver": "raw", "node-name": "win",
           "file": {"driver": "file", "filename": raw}}
    limited = dict(win, size=512 * 1024)
    hmp = "human-monitor-command"
    return [
        {"execute": "qmp_capabilities"},
        {"execute": "blockdev-add", "arguments": limited},
        {"execute": "query-named-block-nodes"},
        {"execute": "blockdev-reopen", "arguments": {"options": [win]}},
        {"execute": "query-named-block-nodes"},
        {"execute": "blockdev-reopen",
         "arguments": {"options": [dict(win, size=256 * 1024),
                                   {"node-name": "nope", "driver": "raw", "file": "x"}]}},
        {"execute": "query-named-block-nodes"},
        {"execute": "blockdev-reopen",
         "arguments": {"options": [{"driver": "raw", "file": win["file"]}]}},
        {"execute": "blockdev-reopen", "arguments": {"options": [{"driver": "raw"}]}},
        {"execute": "blockdev-reopen", "arguments": {"options": [dict(win, driver="qcow2")]}},
        {"execute": "blockdev-reopen",
         "arguments": {"options": [dict(win, file={"driver": "file",
                                                   "filename": raw + ".other"})]}},
        {"execute": "blockdev-reopen", "arguments": {"options": [dict(win, size=128 * 1024)]}},
        {"execute": "query-named-block-nodes"},
        {"execute": "blockdev-add",
         "arguments": {"driver": "qcow2", "node-name": "format",
                       "file": {"driver": "file", "node-name": "file", "filename": qcow2}}},
        {"execute": "blockdev-add",
         "arguments": {"driver": "raw", "node-name": "raw", "file": "file"}},
        {"execute": "blockdev-reopen",
         "arguments": {"options": [{"driver": "qcow2", "node-name": "format",
                                    "file": "raw"}]}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io format "write -P 42 0 64k"'}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io format "read -P 42 0 64k"'}},
        {"execute": "blockdev-add", "arguments": grow(qcow2, 1 << 20)},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io grow "write 1M 1M"'}},
        {"execute": "blockdev-reopen", "arguments": {"options": [grow(qcow2, None)]}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io grow "write 1M 1M"'}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io grow "read -P 0xcd 1M 1M"'}},
        # An overwrite of a cluster the qcow2 node has past the window (iotest 248's mirror
        # target): the raw node answers ENOSPC; once the size is dropped it is written.
        {"execute": "blockdev-add", "arguments": full(qcow2, 1 << 20)},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io full "write -P 0x77 1536k 64k"'}},
        {"execute": "blockdev-reopen", "arguments": {"options": [full(qcow2, None)]}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io full "write -P 0x77 1536k 64k"'}},
        {"execute": hmp, "arguments": {"command-line": 'qemu-io full "read -P 0x77 1536k 64k"'}},
        {"execute": "quit"},
    ]


def grow(qcow2, size):
    """A qcow2 node over a raw node of at most `size` bytes (None: no limit) of a file."""
    window = {"driver": "raw", "file": {"driver": "file", "filename": qcow2 + ".grow"}}
    if size is not None:
        window["size"] = size
    return {"driver": "qcow2", "node-name": "grow", "file": window}


def full(qcow2, size):
    """A qcow2 node, every cluster allocated, over a raw node of at most `size` bytes."""
    node = grow(qcow2, size)
    node["node-name"] = "full"
    node["file"]["file"]["filename"] = qcow2 + ".full"
    return node


def session(tool, raw, qcow2):
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow2 + ".full", "2M")
    run("qemu-io", "-f", "qcow2", "-c", "write 0 2M", qcow2 + ".full")
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow2 + ".grow", "4M")
    os.truncate(qcow2 + ".grow", 2 << 20)
    text = "".join(json.dumps(c) + "\n" for c in commands(raw, qcow2))
    p = subprocess.run(stdio_qmp_argv(tool, SYSTEM), input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=60)
    out = []
    for line in p.stdout.splitlines():
        if not line.startswith("{"):  # qemu-io's own output, without its timing
            if "ops/sec" not in line:
                out.append({"qemu-io": line.replace(qcow2, "QCOW2")})
            continue
        r = json.loads(line)
        if "QMP" in r or "event" in r:
            continue
        if isinstance(r.get("return"), list):  # query-named-block-nodes: win's size
            r = [(n["node-name"], n["image"]["virtual-size"]) for n in r["return"]
                 if n["node-name"] == "win"]
        if isinstance(r, dict) and "error" in r:
            r = {"error": r["error"]["desc"].replace(raw, "RAW")}
        out.append(r)
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-reopen-") as tmp:
    raw = os.path.join(tmp, "disk.raw")
    qcow2 = os.path.join(tmp, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "raw", raw, "1M")
    run("qemu-img", "create", "-q", "-f", "raw", raw + ".other", "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow2, "1M")
    q = session("qemu", raw, qcow2)
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow2, "1M")
    o = session("ours", raw, qcow2)
    checker.check(len(q) > 4 and q[4] == [("win", 1 << 20)],
                  "qemu-system dropped the size limit")
    checker.same("replies", q, o, "qemu", "ours")

sys.exit(checker.exit_status("system_blockdev_reopen: all checks passed"))

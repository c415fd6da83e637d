#!/usr/bin/env python3
"""Dirty bitmaps across a drive's resize, against qemu-system-x86_64 -machine none -nodefaults
with -qmp stdio (iotest 246): growing keeps every bitmap's count and leaves the new area clean,
a write past the old end is counted, shrinking drops what lay past the new end; persistent and
transient, enabled and disabled bitmaps alike, and what qemu-img reads back after quit.
usage: system_resize_bitmaps.py E2KVM_SYSTEM"""
import json
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


def qmp(command, **args):
    return {"execute": command, "arguments": args} if args else {"execute": command}


def hmp(line):
    return qmp("human-monitor-command", **{"command-line": line})


def add(name, **extra):
    return qmp("block-dirty-bitmap-add", node="drive0", name=name, **extra)


QUERY = qmp("query-block")


def session(tool, disk, commands):
    """Each reply; of query-block, the size and (name, count, granularity, recording) of each
    bitmap of drive0, sorted by name."""
    replies, status = stdio_qmp_replies(
        tool, SYSTEM, ["-drive", "if=none,id=drive0,file=%s,format=qcow2" % disk], commands)
    for i, msg in enumerate(replies):
        ret = msg.get("return")
        if isinstance(ret, list):
            inserted = ret[0]["inserted"]
            replies[i] = (inserted["image"]["virtual-size"], sorted(
                (b["name"], b["count"], b["granularity"], b["recording"])
                for b in inserted.get("dirty-bitmaps", [])))
    return replies, status


def stored_bitmaps(disk):
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", disk],
                                     check=True, stdout=subprocess.PIPE, text=True).stdout)
    data = info.get("format-specific", {}).get("data", {})
    return info["virtual-size"], sorted((b["name"], b["granularity"], sorted(b["flags"]))
                                        for b in data.get("bitmaps", []))


def check_report(disk):
    """qemu-img check's report: the stored bitmaps of the new size must be valid."""
    return subprocess.run(["qemu-img", "check", "-U", disk], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout.strip()


COMMANDS = [qmp("qmp_capabilities"),
            add("Persistent", persistent=True),
            add("Small", persistent=True, granularity=32768),
            add("Transient"),
            add("Off", persistent=True, disabled=True),
            hmp("qemu-io drive0 \"write 0 64k\""),
            hmp("qemu-io drive0 \"write 1000k 24k\""),
            QUERY,
            qmp("block_resize", device="drive0", size=4 << 20),
            QUERY,
            hmp("qemu-io drive0 \"write 3M 4k\""),
            QUERY,
            qmp("block_resize", device="drive0", size=(1 << 20) + 512 * 1024),
            QUERY,
            qmp("block_resize", device="drive0", size=8 << 20),
            add("After", persistent=True),
            QUERY,
            qmp("quit")]

with tempfile.TemporaryDirectory(prefix="e2kvm-resizebitmaps-") as tmp:
    disk = os.path.join(tmp, "disk.qcow2")
    results = {}
    for tool in ("qemu", "ours"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"], check=True)
        replies = session(tool, disk, COMMANDS)
        results[tool] = (replies, stored_bitmaps(disk), check_report(disk))
        os.unlink(disk)
    checker.same("replies and bitmaps across resizes", results["qemu"][0], results["ours"][0],
                 "qemu", "ours")
    checker.same("bitmaps stored after quit", results["qemu"][1], results["ours"][1],
                 "qemu", "ours")
    checker.same("qemu-img check after quit", results["qemu"][2], results["ours"][2],
                 "qemu", "ours")

sys.exit(checker.exit_status("dirty bitmaps across a resize as in qemu-system-x86_64"))

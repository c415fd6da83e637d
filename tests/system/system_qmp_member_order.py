#!/usr/bin/env python3
"""The order of the members of QMP objects, as text, against qemu-system-x86_64 -machine none
-nodefaults (QEMU writes them in its QDict's hash order, and iotests compare the text): the
greeting, query-status, query-named-block-nodes of a qcow2 node with a bitmap (ImageInfo and
its qcow2 format-specific data), an error and the SHUTDOWN event, both with -qmp and with
-qmp-pretty.
usage: system_qmp_member_order.py E2KVM_SYSTEM"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def argv(tool, monitor):
    prog = ["qemu-system-x86_64", "-machine", "none"] if tool == "qemu" else [
        SYSTEM, "-accel", "qtest"]
    return prog + ["-nodefaults", "-display", "none", "-nographic", monitor, "stdio",
                   "-serial", "none"]


def session(tool, monitor, extra, commands):
    """What the monitor wrote, with the values that differ between the programs masked."""
    text = "".join(json.dumps(c) + "\n" for c in commands)
    p = subprocess.run(argv(tool, monitor) + extra, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=60)
    out = p.stdout
    out = re.sub(r'("(?:seconds|microseconds|major|minor|micro|actual-size)": ?)\d+', r"\1N", out)
    out = re.sub(r'("package": ?)"[^"]*"', r'\1"P"', out)
    # (e2kvm-system -accel qtest starts paused)
    out = re.sub(r'("status": ?)"(running|prelaunch)"', r'\1"S"', out)
    out = re.sub(r'("running": ?)(true|false)', r"\1B", out)
    return out


CMDS = [{"execute": "qmp_capabilities"},
        {"execute": "query-status"},
        {"execute": "block-dirty-bitmap-add",
         "arguments": {"node": "fmt", "name": "b0"}},
        {"execute": "query-named-block-nodes"},
        {"execute": "block-dirty-bitmap-remove", "arguments": {"node": "fmt", "name": "x"}},
        {"execute": "quit"}]

with tempfile.TemporaryDirectory(prefix="e2kvm-qmporder-") as tmp:
    disk = os.path.join(tmp, "disk.qcow2")
    for monitor in ("-qmp", "-qmp-pretty"):
        results = {}
        for tool in ("qemu", "ours"):
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-o",
                            "compat=1.1,lazy_refcounts=on", disk, "1M"], check=True)
            results[tool] = session(tool, monitor, [
                "-blockdev", "file,node-name=proto,filename=" + disk,
                "-blockdev", json.dumps({"driver": "qcow2", "node-name": "fmt", "file": "proto",
                                         "backing": None})], CMDS)
        checker.check('"format-specific"' in results["qemu"] and "SHUTDOWN" in results["qemu"],
                      "the session with " + monitor + " ran")
        checker.same("QMP text with " + monitor, results["qemu"], results["ours"],
                     "qemu", "ours")

sys.exit(checker.exit_status("QMP members in QEMU's order"))

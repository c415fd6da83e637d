#!/usr/bin/env python3
"""QMP internal snapshots (iotest 057) against qemu-system-x86_64 -machine none -nodefaults:
blockdev-snapshot-internal-sync alone and in transactions (taken back by an abort action),
its errors (a name already used, an empty name, an unknown device, a read-only drive, a
format without internal snapshots), query-block's "snapshots" and the answers and errors of
blockdev-snapshot-delete-internal-sync by id, by name and by both; then `qemu-img snapshot -l`
of the image each program left. Dates and clocks are masked.
usage: system_internal_snapshots.py E2KVM_SYSTEM"""
import json
import os
import re
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


def snap(device, name):
    return {"type": "blockdev-snapshot-internal-sync",
            "data": {"device": device, "name": name}}


def delete(**args):
    return {"execute": "blockdev-snapshot-delete-internal-sync", "arguments": args}


COMMANDS = [
    {"execute": "qmp_capabilities"},
    {"execute": "blockdev-snapshot-internal-sync",
     "arguments": {"device": "drive0", "name": "first"}},
    {"execute": "transaction", "arguments": {"actions": [snap("drive0", "a"),
                                                         snap("drive0", "b")]}},
    {"execute": "transaction",
     "arguments": {"actions": [snap("drive0", "c"), {"type": "abort", "data": {}}]}},
    {"execute": "transaction", "arguments": {"actions": [snap("drive0", "c"), {"type": "abort"}]}},
    {"execute": "transaction", "arguments": {"actions": [snap("drive0", "first")]}},
    {"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "drive0", "name": ""}},
    {"execute": "blockdev-snapshot-internal-sync",
     "arguments": {"device": "nosuch", "name": "x"}},
    {"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "ro0", "name": "x"}},
    {"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "raw0", "name": "x"}},
    {"execute": "query-block"},
    delete(device="drive0", id="1"),
    delete(device="drive0", name="b"),
    delete(device="drive0", id="2", name="b"),
    delete(device="drive0", id="9"),
    delete(device="drive0"),
    delete(device="nosuch", id="1"),
    {"execute": "blockdev-snapshot-internal-sync", "arguments": {"device": "drive0", "name": "a"}},
    {"execute": "blockdev-snapshot-internal-sync",
     "arguments": {"device": "drive0", "name": "last"}},
    {"execute": "query-block"},
    {"execute": "quit"},
]


MASKED = {"date-sec", "date-nsec", "vm-clock-sec", "vm-clock-nsec", "actual-size", "seconds",
          "microseconds", "major", "minor", "micro", "package"}


def masked(value):
    """The value with dates, clocks, sizes on disk and versions masked, and node names (QEMU
    generates "#blockNNN" for a drive's node, e2kvm names it after the drive)."""
    if isinstance(value, dict):
        return {k: "N" if k in MASKED or k == "node-name" else masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def session(tool, tmp):
    disk = os.path.join(tmp, tool + ".qcow2")
    ro = os.path.join(tmp, tool + "-ro.qcow2")
    raw = os.path.join(tmp, tool + ".raw")
    run("qemu-img", "create", "-q", "-f", "qcow2", disk, "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", ro, "1M")
    run("qemu-img", "create", "-q", "-f", "raw", raw, "1M")
    drives = ["-drive", "if=none,id=drive0,format=qcow2,file=" + disk,
              "-drive", "if=none,id=ro0,format=qcow2,read-only=on,file=" + ro,
              "-drive", "if=none,id=raw0,format=raw,file=" + raw]
    text = "".join(json.dumps(c) + "\n" for c in COMMANDS)
    p = subprocess.run(stdio_qmp_argv(tool, SYSTEM) + drives, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=60)
    replies = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    lines = [json.dumps(masked(r)).replace(tmp + "/" + tool, "TMP/X") for r in replies]
    listing = run("qemu-img", "snapshot", "-l", disk).stdout
    listing = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "DATE", listing)
    listing = re.sub(r"\d\d:\d\d:\d\d\.\d{3}", "CLOCK", listing)
    return lines, listing


with tempfile.TemporaryDirectory(prefix="e2kvm-intsnap-") as tmp:
    q = session("qemu", tmp)
    o = session("ours", tmp)
    checker.check(any('"snapshots"' in line for line in q[0]) and "last" in q[1],
                  "qemu-system took the snapshots")
    for i in range(max(len(q[0]), len(o[0]))):
        checker.same("reply %d" % i, q[0][i] if i < len(q[0]) else None,
                     o[0][i] if i < len(o[0]) else None, "qemu", "ours")
    checker.same("qemu-img snapshot -l afterwards", q[1], o[1], "qemu", "ours")

sys.exit(checker.exit_status("system_internal_snapshots: all checks passed"))
